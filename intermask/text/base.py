"""The text-encoder interface: a sentence vector plus padded word vectors with a mask.

Every encoder is frozen; the trainable text head lives in the transformer. ``encode`` returns
``TextFeatures(sentence (B, D), words (B, W, D), mask (B, W) bool, static (B, W, D))`` as float32 CPU tensors,
where the words are the encoder's per-token outputs (W ≤ ``max_words``; padding rows are zero and masked out) and
``static`` holds the same tokens' input embeddings: the encoder's lookup table before any attention, so that two
prompts differing in one word ("left" / "right") differ clearly there even where the contextual outputs barely do
(docs/design-notes.md, "Static word vectors"). ``static`` may be None for features built by hand.
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
    static: torch.Tensor | None = None  # (B, W, D) input embeddings of the same tokens
    # The same descriptions with "the first person" and "the second person" exchanged: what the second person
    # reads in a transformer with person_words (intermask/data/person_order.py, person_views). None: no
    # description of the batch names a person by order, so both persons read the same features.
    swapped: "TextFeatures | None" = None

    def __len__(self) -> int:
        return self.sentence.shape[0]

    def index(self, idx) -> "TextFeatures":
        return TextFeatures(self.sentence[idx], self.words[idx], self.mask[idx],
                            None if self.static is None else self.static[idx],
                            None if self.swapped is None else self.swapped.index(idx))

    def to(self, device) -> "TextFeatures":
        return TextFeatures(self.sentence.to(device), self.words.to(device), self.mask.to(device),
                            None if self.static is None else self.static.to(device),
                            None if self.swapped is None else self.swapped.to(device))

    @staticmethod
    def from_tokens(sentence: torch.Tensor, hidden: torch.Tensor, table: torch.Tensor, attention: torch.Tensor,
                    max_words: int) -> "TextFeatures":
        """Features of a tokenised batch: ``hidden`` (B, N, D) the encoder's token outputs, ``table`` (B, N, D) the
        same tokens' input embeddings, ``attention`` (B, N) its attention mask; the first ``max_words`` tokens
        become the word rows, zero where the mask is off and past the text."""
        att = attention.bool()
        b, n, d = hidden.shape
        k = min(n, max_words)
        words = torch.zeros(b, max_words, d)
        static = torch.zeros(b, max_words, d)
        mask = torch.zeros(b, max_words, dtype=torch.bool)
        mask[:, :k] = att[:, :k]
        words[:, :k] = hidden[:, :k].float() * mask[:, :k].unsqueeze(-1)
        static[:, :k] = table[:, :k].float() * mask[:, :k].unsqueeze(-1)
        return TextFeatures(sentence, words, mask, static)

    @staticmethod
    def cat(parts: list["TextFeatures"]) -> "TextFeatures":
        width = max(p.words.shape[1] for p in parts)

        def pad(x: torch.Tensor) -> torch.Tensor:
            extra = width - x.shape[1]
            if extra == 0:
                return x
            shape = (x.shape[0], extra) + tuple(x.shape[2:])
            return torch.cat([x, x.new_zeros(shape)], dim=1)

        static = None
        if all(p.static is not None for p in parts):
            static = torch.cat([pad(p.static) for p in parts])
        swapped = None
        if any(p.swapped is not None for p in parts):  # a part without its own view reads the same words
            swapped = TextFeatures.cat([p if p.swapped is None else p.swapped for p in parts])
        return TextFeatures(torch.cat([p.sentence for p in parts]), torch.cat([pad(p.words) for p in parts]),
                            torch.cat([pad(p.mask) for p in parts]), static, swapped)


class TextEncoder:
    """Base class. Subclasses set ``name`` and ``dim`` and implement ``_encode``."""

    name: str = "base"
    dim: int = 0
    max_words: int = 32

    def encode(self, texts: list[str]) -> TextFeatures:
        texts = [t if isinstance(t, str) else "" for t in texts]
        with torch.no_grad():
            out = self._encode(texts)
        static = None if out.static is None else out.static.float().contiguous()
        return TextFeatures(out.sentence.float().contiguous(), out.words.float().contiguous(), out.mask.bool(),
                            static)

    def _encode(self, texts: list[str]) -> TextFeatures:  # pragma: no cover - abstract
        raise NotImplementedError


class ToyTextEncoder(TextEncoder):
    """Deterministic bag-of-words encoder for tests: each lower-cased word gets a fixed random vector.

    No download, instant, and distinct words give distinct features, which is all a test needs to check
    that text conditioning is wired through. Not for real models. Its words have no context, so the static
    vectors are the words themselves.
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
        return TextFeatures(sentence, words, mask, words.clone())
