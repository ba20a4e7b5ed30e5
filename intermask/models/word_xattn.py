"""Word-motion cross-attention (the public fork's contribution), with its guidance bug fixed.

See docs/design-notes.md, "Word cross-attention".

Motion tokens of both persons (the query) attend to word-level text features (keys and values under a plain,
non-affine LayerNorm). Two placements:

- ``every_block`` (the fork's code): the first sub-layer of each Inter-M block; the query is modulated by three
  extra AdaLN chunks of the block and the residual is gated (gate zero-initialised).
- ``pre`` (the fork's README): one layer in front of the blocks; affine LayerNorm on the query, an output
  projection and an ungated residual.

The fix: samples whose condition is dropped (classifier-free guidance's unconditional branch and training-time
condition dropout) get no word branch at all — their contribution is multiplied by zero — instead of still
seeing the words as in the fork.
"""
from __future__ import annotations

import torch
from torch import nn

from intermask.models.layers import Dropout, MultiheadAttention, layer_norm, modulate


def word_keys(words: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised keys (B, W, d), a key mask that never leaves a row empty, and the (B, 1, 1) branch weight.

    ``keep`` (B,) bool is False for dropped conditions; rows without any word are dropped as well.
    """
    has_words = keep & mask.any(1)
    safe_mask = mask.clone()
    safe_mask[:, 0] |= ~mask.any(1)  # an all-masked row would give NaN; its output is zeroed below
    return layer_norm(words), safe_mask, has_words.to(words.dtype)[:, None, None]


class WordCrossAttention(nn.Module):
    """The attention itself; the caller supplies the (modulated) query and applies the residual."""

    def __init__(self, d: int, n_heads: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.attn = MultiheadAttention(d, n_heads, attn_dropout)
        self.dropout = Dropout(dropout)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor, weight: torch.Tensor
                ) -> torch.Tensor:
        if keys.dim() == 4:
            return self._per_person(query, keys, key_mask, weight)
        kept = weight.flatten() != 0
        if self.training or bool(kept.all()):  # (training keeps the whole batch: its dropout is keyed by row)
            return self.dropout(self.attn(query, keys, key_mask)) * weight
        # At inference the dropped rows (guidance's unconditional half) cost nothing: their output is zero.
        out = torch.zeros_like(query)
        if kept.any():
            out[kept] = self.attn(query[kept], keys[kept], key_mask[kept]) * weight[kept]
        return out

    def _per_person(self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor, weight: torch.Tensor
                    ) -> torch.Tensor:
        """query (B, 2n + 1, d): both persons' n tokens and SEP; keys (B, 2, W, d), key_mask (B, 2, W): person p
        reads keys[:, p]. SEP, shared by the persons, reads both and takes the mean."""
        b, length, d = query.shape
        n = (length - 1) // 2
        sep = query[:, 2 * n:]
        per = torch.cat([query[:, :2 * n].view(b, 2, n, d), sep[:, None].expand(b, 2, 1, d)], dim=2)
        out = self.forward(per.reshape(2 * b, n + 1, d), keys.flatten(0, 1), key_mask.flatten(0, 1),
                           weight.repeat_interleave(2, 0)).view(b, 2, n + 1, d)
        return torch.cat([out[:, :, :n].reshape(b, 2 * n, d), out[:, :, n:].mean(1)], dim=1)


class PreWordCrossAttention(nn.Module):
    """The ``pre`` placement: x ← x + W_o·Attn(LN_affine(x), LN(words))."""

    def __init__(self, d: int, n_heads: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.xattn = WordCrossAttention(d, n_heads, dropout, attn_dropout)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor, weight: torch.Tensor
                ) -> torch.Tensor:
        return x + self.out(self.xattn(self.norm(x), keys, key_mask, weight))


def in_block_word_attention(layer: WordCrossAttention, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor,
                            gate: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor, weight: torch.Tensor
                            ) -> torch.Tensor:
    """The ``every_block`` sub-layer: x ← x + gate·Attn(modulate(LN(x)), LN(words))."""
    return x + gate * layer(modulate(layer_norm(x), shift, scale), keys, key_mask, weight)
