"""Building blocks shared by the Inter-M transformer and its text head.

All dropout goes through :func:`keyed_random.keyed_dropout`, so masks are drawn from per-sample keys
and do not depend on which process holds a sample. Attention uses ``F.scaled_dot_product_attention``
unless attention dropout is active in training, where the weights are materialised so that the keyed
dropout mask can be applied to them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from intermask.models.keyed_random import keyed_dropout


class Dropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return keyed_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


def layer_norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Non-affine LayerNorm (the AdaLN blocks supply scale and shift)."""
    return F.layer_norm(x, x.shape[-1:], eps=eps)


class AdaLN(nn.Module):
    """SiLU → Linear(d → n·d) of the condition; returns n tensors (B, 1, d) that broadcast over tokens."""

    def __init__(self, d: int, n: int):
        super().__init__()
        self.n = n
        self.linear = nn.Linear(d, n * d)

    def forward(self, cond: torch.Tensor) -> list[torch.Tensor]:
        return list(self.linear(F.silu(cond)).unsqueeze(1).chunk(self.n, dim=-1))

    def zero_(self) -> None:
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_valid: torch.Tensor | None,
              dropout_p: float, training: bool) -> torch.Tensor:
    """q (N, h, Lq, dh), k/v (N, h, Lk, dh), key_valid (N, Lk) bool or None → (N, h, Lq, dh)."""
    mask = None if key_valid is None else key_valid[:, None, None, :]
    if not training or dropout_p <= 0.0:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = keyed_dropout(scores.softmax(-1), dropout_p, training)
    return weights @ v


class MultiheadAttention(nn.Module):
    """Batch-first multi-head attention with a packed input projection (like ``nn.MultiheadAttention``)."""

    def __init__(self, d: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d % n_heads:
            raise ValueError(f"width {d} is not divisible by {n_heads} heads")
        self.d, self.h, self.dropout = d, n_heads, float(dropout)
        self.in_proj = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, l, _ = x.shape
        return x.view(n, l, self.h, self.d // self.h).transpose(1, 2)

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None,
                key_valid: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, Lq, d) queries; kv (N, Lk, d) keys/values (default: x); key_valid (N, Lk) bool."""
        w, b = self.in_proj.weight, self.in_proj.bias
        if kv is None:
            q, k, v = F.linear(x, w, b).chunk(3, dim=-1)
        else:
            q = F.linear(x, w[: self.d], b[: self.d])
            k, v = F.linear(kv, w[self.d:], b[self.d:]).chunk(2, dim=-1)
        out = attention(self._split(q), self._split(k), self._split(v), key_valid, self.dropout, self.training)
        n, _, lq, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(n, lq, self.d))


class FeedForward(nn.Module):
    def __init__(self, d: int, ff: int, dropout: float):
        super().__init__()
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.gelu(self.linear1(x))))


class TextHeadLayer(nn.Module):
    """Post-norm encoder layer (the layout of ``nn.TransformerEncoderLayer``, GELU) with keyed dropout."""

    def __init__(self, d: int, n_heads: int, ff: int, dropout: float):
        super().__init__()
        self.attn = MultiheadAttention(d, n_heads, dropout)
        self.ffn = FeedForward(d, ff, dropout)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.drop1 = Dropout(dropout)
        self.drop2 = Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop1(self.attn(x, key_valid=valid)))
        return self.norm2(x + self.drop2(self.ffn(x)))


class TextHead(nn.Module):
    """The trainable text head over frozen encoder outputs ("clipTrans" + "clipln" in the official code).

    It runs over ``[sentence, word_1..word_W]`` so that the sentence vector and the word vectors are refined
    together; row 0 becomes the sentence feature and rows 1.. the word features.
    """

    def __init__(self, dim: int, layers: int, n_heads: int, ff: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList([TextHeadLayer(dim, n_heads, ff, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, sentence: torch.Tensor, words: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([sentence[:, None], words], dim=1)
        valid = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        for layer in self.layers:
            x = layer(x, valid)
        x = self.norm(x)
        return x[:, 0], x[:, 1:]
