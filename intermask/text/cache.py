"""Compute a frozen text encoder's outputs once per unique text and keep them.

Training draws the same few thousand descriptions over and over; running MiniLM (or CLIP) on every batch
would cost more than the tiny models being trained. ``TextFeatureCache.get(texts)`` encodes only the texts it
has not seen (batched), and returns features in the order asked. Each entry keeps only its valid word rows,
so memory grows with the real token count, not with ``max_words``.

``save``/``load`` write a safetensors file (no pickle): flat tensors plus metadata holding the encoder's
``cache_key`` and the texts as JSON. Loading a file written by another encoder (or another ``max_words``) is
an error rather than a silent mix of incompatible features. A file of the previous format (no static word
vectors) is skipped — ``load`` returns 0 and the texts are encoded again — since every entry is derived data.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import torch

from intermask.atomic import atomic_path
from intermask.errors import InterMaskError
from intermask.text.base import TextEncoder, TextFeatures

FORMAT = "intermask-text-cache-2"
OLD_FORMATS = ("intermask-text-cache-1",)  # readable as "rebuild me"


def encoder_key(encoder: TextEncoder) -> str:
    """What identifies an encoder's outputs: its ``cache_key`` if it has one, else name, width and size."""
    key = getattr(encoder, "cache_key", None)
    return key if key else f"{encoder.name}:d{encoder.dim}:w{encoder.max_words}"


class TextFeatureCache:
    def __init__(self, encoder: TextEncoder, batch_size: int = 256):
        self.encoder = encoder
        self.batch_size = batch_size
        self.key = encoder_key(encoder)
        # text → (sentence (D,), words (n, D), static (n, D)) valid rows only; insertion-ordered for save().
        self._entries: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: str) -> bool:
        return text in self._entries

    def _fill(self, texts: list[str], progress: bool = False) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._entries))
        bar = None
        if progress and missing:
            from tqdm import tqdm

            bar = tqdm(total=len(missing), desc=f"encoding texts ({self.encoder.name})", unit="text",
                       dynamic_ncols=True)
        for i in range(0, len(missing), self.batch_size):
            chunk = missing[i:i + self.batch_size]
            feats = self.encoder.encode(chunk)
            if feats.static is None:
                raise InterMaskError(f"Text encoder {self.key!r} returns no static word vectors.")
            for j, text in enumerate(chunk):
                n = int(feats.mask[j].sum())
                # Valid rows come first for every encoder here (padding at the end); keep them as copies so the
                # batch tensor can be freed.
                self._entries[text] = (feats.sentence[j].clone(), feats.words[j, :n].clone(),
                                       feats.static[j, :n].clone())
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()

    def get(self, texts: list[str]) -> TextFeatures:
        """Features for ``texts`` (B,) in order: sentence (B, D), words and static (B, max_words, D), mask."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        with self._lock:
            self._fill(texts)
            rows = [self._entries[t] for t in texts]
        width = self.encoder.max_words
        dim = rows[0][0].shape[0] if rows else self.encoder.dim
        words = torch.zeros(len(rows), width, dim)
        static = torch.zeros(len(rows), width, dim)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, (_, w, st) in enumerate(rows):
            words[i, : w.shape[0]] = w
            static[i, : st.shape[0]] = st
            mask[i, : w.shape[0]] = True
        sentence = torch.stack([row[0] for row in rows]) if rows else torch.zeros(0, dim)
        return TextFeatures(sentence, words, mask, static)

    # A cache stands in for its encoder wherever features are asked for (e.g. the training probe's generator).
    def encode(self, texts: list[str]) -> TextFeatures:
        return self.get(list(texts))

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def warm(self, texts, progress: bool = False) -> None:
        """Encode every text in ``texts`` now (e.g. all descriptions of a data set before training)."""
        with self._lock:
            self._fill([t for t in texts if isinstance(t, str)], progress)

    # ------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        with self._lock:
            texts = list(self._entries)
            sent = [self._entries[t][0] for t in texts]
            words = [self._entries[t][1] for t in texts]
            static = [self._entries[t][2] for t in texts]
        dim = sent[0].shape[0] if sent else self.encoder.dim
        lengths = torch.tensor([w.shape[0] for w in words], dtype=torch.int64)
        tensors = {
            "sentence": torch.stack(sent) if sent else torch.zeros(0, dim),
            "words": torch.cat(words) if words else torch.zeros(0, dim),
            "static": torch.cat(static) if static else torch.zeros(0, dim),
            "lengths": lengths,
        }
        meta = {"format": FORMAT, "encoder": self.key, "texts": json.dumps(texts, ensure_ascii=False)}
        with atomic_path(path) as tmp:  # a crash never leaves a half-written cache behind
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)

    def load(self, path: str | os.PathLike) -> int:
        """Add the entries of a saved cache; returns how many were added. Missing file → 0."""
        from safetensors import safe_open

        path = Path(path)
        if not path.exists():
            return 0
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("format") in OLD_FORMATS:
                    return 0
                tensors = {k: f.get_tensor(k) for k in ("sentence", "words", "static", "lengths")}
        except Exception as exc:  # safetensors raises its own error types for corrupt files
            raise InterMaskError(f"Text feature cache {path} could not be read ({exc}); "
                                 "delete it to rebuild.") from None
        if meta.get("format") != FORMAT:
            raise InterMaskError(f"{path} is not an InterMask text feature cache; delete it to rebuild.")
        if meta.get("encoder") != self.key:
            raise InterMaskError(f"Text feature cache {path} was written by encoder {meta.get('encoder')!r}, not "
                                 f"{self.key!r}; use another cache file or delete it.")
        texts = json.loads(meta["texts"])
        offsets = [0] + torch.cumsum(tensors["lengths"], 0).tolist()
        added = 0
        with self._lock:
            for i, text in enumerate(texts):
                if text not in self._entries:
                    # Views into the loaded tensors, not copies: a cache of a gigabyte is held once.
                    rows = slice(offsets[i], offsets[i + 1])
                    self._entries[text] = (tensors["sentence"][i], tensors["words"][rows], tensors["static"][rows])
                    added += 1
        return added
