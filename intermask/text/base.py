"""The text-encoder interface: a sentence vector plus padded word vectors with a mask.

Every encoder is frozen; the trainable text head lives in the transformer. ``encode`` returns
``TextFeatures(sentence (B, D), words (B, W, D), mask (B, W) bool)`` as float32 CPU tensors, where the words
are the encoder's per-token outputs (W ≤ ``max_words``; padding rows are zero and masked out).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


@dataclass
class TextFeatures:
    sentence: torch.Tensor  # (B, D)
    words: torch.Tensor  # (B, W, D)
    mask: torch.Tensor  # (B, W) bool, True = a real token

    def __len__(self) -> int:
        return self.sentence.shape[0]

    def index(self, idx) -> "TextFeatures":
        return TextFeatures(self.sentence[idx], self.words[idx], self.mask[idx])

    @staticmethod
    def cat(parts: list["TextFeatures"]) -> "TextFeatures":
        width = max(p.words.shape[1] for p in parts)

        def pad(x: torch.Tensor) -> torch.Tensor:
            extra = width - x.shape[1]
            if extra == 0:
                return x
            shape = (x.shape[0], extra) + tuple(x.shape[2:])
            return torch.cat([x, x.new_zeros(shape)], dim=1)

        return TextFeatures(torch.cat([p.sentence for p in parts]), torch.cat([pad(p.words) for p in parts]),
                            torch.cat([pad(p.mask) for p in parts]))


class TextEncoder:
    """Base class. Subclasses set ``name`` and ``dim`` and implement ``_encode``."""

    name: str = "base"
    dim: int = 0
    max_words: int = 32

    def encode(self, texts: list[str]) -> TextFeatures:
        texts = [t if isinstance(t, str) else "" for t in texts]
        with torch.no_grad():
            out = self._encode(texts)
        return TextFeatures(out.sentence.float().contiguous(), out.words.float().contiguous(), out.mask.bool())

    def _encode(self, texts: list[str]) -> TextFeatures:  # pragma: no cover - abstract
        raise NotImplementedError


class ToyTextEncoder(TextEncoder):
    """Deterministic bag-of-words encoder for tests: each lower-cased word gets a fixed random vector.

    No download, instant, and distinct words give distinct features, which is all a test needs to check
    that text conditioning is wired through. Not for real models.
    """

    name = "toy"

    def __init__(self, dim: int = 32, max_words: int = 16):
        self.dim = dim
        self.max_words = max_words

    def _word_vector(self, word: str) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little") % (2 ** 63)
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(self.dim, generator=gen)

    def _encode(self, texts: list[str]) -> TextFeatures:
        b = len(texts)
        words = torch.zeros(b, self.max_words, self.dim)
        mask = torch.zeros(b, self.max_words, dtype=torch.bool)
        sentence = torch.zeros(b, self.dim)
        for i, text in enumerate(texts):
            tokens = text.lower().replace(",", " ").replace(".", " ").split()[: self.max_words]
            for j, tok in enumerate(tokens):
                words[i, j] = self._word_vector(tok)
                mask[i, j] = True
            if tokens:
                sentence[i] = words[i, : len(tokens)].mean(0)
        return TextFeatures(sentence, words, mask)
