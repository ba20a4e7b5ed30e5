"""Build text encoders by name, loading each heavy backend at most once per process.

``load(cfg)`` takes a ``TextConfig`` (``encoder`` = ``toy`` | ``minilm`` | ``clip`` | ``clip_official``). Loading MiniLM takes about
8 s and CLIP ViT-L/14 longer, and the demo, the trainers and the evaluator may all ask for the same encoder, so
encoders are memoised by everything that changes their output. A lock makes concurrent first calls (Gradio
runs callbacks on worker threads) load once instead of racing.
"""
from __future__ import annotations

import threading

from intermask.errors import InterMaskError
from intermask.text.base import TextEncoder, ToyTextEncoder

ENCODERS = ("toy", "minilm", "clip", "clip_official")

_lock = threading.Lock()
_memo: dict[tuple, TextEncoder] = {}


def _key(cfg) -> tuple:
    name = getattr(cfg, "encoder", None)
    max_words = int(getattr(cfg, "max_words", 32))
    if name in ("clip", "clip_official"):
        return (name, max_words, getattr(cfg, "clip_path", "") or "", getattr(cfg, "clip_hub_id", "") or "")
    return (name, max_words)


def _build(cfg) -> TextEncoder:
    name = cfg.encoder
    max_words = int(cfg.max_words)
    if max_words < 1:
        raise InterMaskError(f"The text encoder's max_words must be at least 1; got {max_words}.")
    if name == "toy":
        return ToyTextEncoder(max_words=max_words)
    if name == "minilm":
        from intermask.text.minilm import MiniLMEncoder

        return MiniLMEncoder(max_words=max_words)
    if name in ("clip", "clip_official"):
        from intermask.text.clip import CLIPEncoder

        return CLIPEncoder(path=cfg.clip_path, hub_id=cfg.clip_hub_id, max_words=max_words,
                           official_tokens=name == "clip_official")
    raise InterMaskError(f"Unknown text encoder {name!r}; choose one of {', '.join(ENCODERS)}.")


def load(cfg) -> TextEncoder:
    """Return the (shared, frozen) encoder that ``cfg`` names; the first call per configuration loads it."""
    key = _key(cfg)
    with _lock:
        enc = _memo.get(key)
        if enc is None:
            enc = _build(cfg)
            _memo[key] = enc
        return enc


def clear() -> None:
    """Forget every loaded encoder (tests, or to free memory)."""
    with _lock:
        _memo.clear()
