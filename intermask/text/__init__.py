"""Frozen text encoders behind one interface (see ``base.py``)."""
from intermask.text.base import TextEncoder, TextFeatures, ToyTextEncoder

__all__ = ["TextEncoder", "TextFeatures", "ToyTextEncoder", "load_text_encoder"]


def load_text_encoder(cfg) -> TextEncoder:
    """Build the encoder named by a ``TextConfig`` (``toy``, ``minilm`` or ``clip``)."""
    from intermask.text.registry import load

    return load(cfg)
