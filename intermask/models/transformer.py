"""The Inter-M transformer with optional word-motion cross-attention (docs/design-notes.md, "Transformer").

Token layout: ids (B, 2, G, T') — two persons, G spatial groups (5, see ``vqvae.token_groups``), T' time
tokens — plus one SEP token. Each block runs a combined stage over all tokens of both persons (self-attention +
FFN) and a split stage with weights shared by the persons: spatial attention over the G groups at each time,
temporal attention over T' within each group, cross-attention to the other person, FFN. Every residual is
AdaLN-modulated by the sentence condition and gated (gates start at zero).

Generation lives in ``intermask/sampling.py``; it calls :meth:`InterMTransformer.forward`, where one batch can
hold both branches of classifier-free guidance (``drop_cond`` selects the unconditional rows).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from intermask.config import TransformerConfig
from intermask.errors import InterMaskError
from intermask.models.collective import LOCAL, Collective
from intermask.models.vqvae import FRAMES_PER_TOKEN, GROUPS
from intermask.models.layers import (AdaLN, Dropout, FeedForward, MultiheadAttention, TextHead, layer_norm,
                                     modulate)
from intermask.models.word_xattn import (PreWordCrossAttention, WordCrossAttention, in_block_word_attention,
                                         word_keys)
from intermask.text.base import TextFeatures

WORD_XATTN = ("none", "pre", "every_block")


def positional_encoding_2d(groups: int, times: int, d: int) -> torch.Tensor:
    """(groups, times, d) fixed encoding: interleaved sin/cos of the group index in the first half of the
    channels and of the time index in the second (the layout of positional-encodings' PositionalEncoding2D)."""
    ch = int(math.ceil(d / 4) * 2)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, ch, 2).float() / ch))

    def emb(n: int) -> torch.Tensor:
        s = torch.arange(n).float()[:, None] * inv_freq[None]
        return torch.stack([s.sin(), s.cos()], dim=-1).flatten(-2)  # (n, ch)

    pe = torch.zeros(groups, times, 2 * ch)
    pe[:, :, :ch] = emb(groups)[:, None]
    pe[:, :, ch:] = emb(times)[None]
    return pe[..., :d]


def checkpoint_depth(names: Iterable[str]) -> int:
    """The number of Inter-M blocks in a checkpoint whose parameter names are ``names``."""
    return 1 + max((int(k.split(".")[1]) for k in names if k.startswith("blocks.")), default=-1)


class InterMBlock(nn.Module):
    def __init__(self, cfg: TransformerConfig, groups: int):
        super().__init__()
        d, h = cfg.latent_dim, cfg.n_heads
        self.groups = groups
        self.word = cfg.word_xattn == "every_block"
        self.ada_combined = AdaLN(d, 9 if self.word else 6)
        if self.word:
            self.word_attn = WordCrossAttention(d, h, cfg.dropout, cfg.attn_dropout)
        self.self_attn = MultiheadAttention(d, h, cfg.attn_dropout)
        self.ffn = FeedForward(d, cfg.ff_size, cfg.dropout)
        self.ada_split = AdaLN(d, 14)
        self.spatial_attn = MultiheadAttention(d, h, cfg.attn_dropout)
        self.temporal_attn = MultiheadAttention(d, h, cfg.attn_dropout)
        self.cross_attn = MultiheadAttention(d, h, cfg.attn_dropout)
        self.ffn_split = FeedForward(d, cfg.ff_size, cfg.dropout)
        self.drops = nn.ModuleList([Dropout(cfg.dropout) for _ in range(6)])

    def forward(self, x: torch.Tensor, cond: torch.Tensor, valid: torch.Tensor, words) -> torch.Tensor:
        """x (B, 2·G·T' + 1, d) with SEP last; valid (B, 2, G, T') bool; words = (keys, mask, weight) or None."""
        b, _, d = x.shape
        g, t = valid.shape[-2:]
        n = g * t
        mods = self.ada_combined(cond)
        if self.word:
            sw, cw, gw = mods[:3]
            mods = mods[3:]
            x = in_block_word_attention(self.word_attn, x, sw, cw, gw, *words)
        s1, c1, g1, s2, c2, g2 = mods
        key_valid = torch.cat([valid.reshape(b, -1), valid.new_ones(b, 1)], dim=1)
        x = x + g1 * self.drops[0](self.self_attn(modulate(layer_norm(x), s1, c1), key_valid=key_valid))
        x = x + g2 * self.drops[1](self.ffn(modulate(layer_norm(x), s2, c2)))

        (ss, cs, gs, st, ct, gt, sq, cq, skv, ckv, gx, sf, cf, gf) = [m[:, None] for m in self.ada_split(cond)]
        p, sep = x[:, :2 * n].view(b, 2, n, d), x[:, 2 * n:]
        # spatial: the G groups at each (person, time); no padding mask
        normed = layer_norm(p)
        h = modulate(normed, ss, cs).view(b, 2, g, t, d).transpose(2, 3).reshape(b * 2 * t, g, d)
        spa = self.spatial_attn(h).view(b, 2, t, g, d).transpose(2, 3).reshape(b, 2, n, d)
        # temporal: the T' steps of each (person, group), time pads masked
        h = modulate(normed, st, ct).reshape(b * 2 * g, t, d)
        tmp = self.temporal_attn(h, key_valid=valid.reshape(b * 2 * g, t)).view(b, 2, n, d)
        p1 = (p + gs * self.drops[2](spa)) + (p + gt * self.drops[3](tmp))
        # cross: each person queries the other's tokens from before the spatio-temporal step
        q = modulate(layer_norm(p1), sq, cq).reshape(b * 2, n, d)
        kv = modulate(normed, skv, ckv).flip(1).reshape(b * 2, n, d)
        other_valid = valid.flip(1).reshape(b * 2, n)
        p2 = p1 + gx * self.drops[4](self.cross_attn(q, kv, other_valid).view(b, 2, n, d))
        p3 = p2 + gf * self.drops[5](self.ffn_split(modulate(layer_norm(p2), sf, cf)))
        return torch.cat([p3.reshape(b, 2 * n, d), sep], dim=1)


class InterMTransformer(nn.Module):
    """``forward(ids, token_lengths, text, drop_cond) → logits (B, 2, G, T', num_codes)``.

    ``groups`` and ``frames_per_token`` are the token geometry of the VQ-VAE whose codes it models (from
    ``vqvae.token_groups`` / ``frames_per_token``; 5 and 4 for every shipped checkpoint).

    - ids (B, 2, G, T') long: codes in [0, num_codes), ``mask_id`` = num_codes, ``pad_id`` = num_codes + 1;
    - token_lengths (B,) long: valid time tokens per sample (positions t ≥ length are padding);
    - text: TextFeatures(sentence (B, text_dim), words (B, W, text_dim), mask (B, W), static (B, W, text_dim)
      — static is read only with ``static_words``);
    - drop_cond (B,) bool: True gives the unconditional branch (no sentence, no words).
    """

    def __init__(self, cfg: TransformerConfig, num_codes: int, text_dim: int, groups: int = GROUPS,
                 frames_per_token: int = FRAMES_PER_TOKEN):
        super().__init__()
        if cfg.word_xattn not in WORD_XATTN:
            raise InterMaskError(f"word_xattn must be one of {WORD_XATTN}; got {cfg.word_xattn!r}.")
        self.cfg = cfg
        self.num_codes = num_codes
        self.text_dim = text_dim
        self.groups, self.frames_per_token = groups, frames_per_token
        self.mask_id, self.pad_id, self.sep_id = num_codes, num_codes + 1, num_codes + 2
        d = cfg.latent_dim
        self.token_emb = nn.Embedding(num_codes + 3, cfg.token_emb_dim)
        self.token_proj = nn.Linear(cfg.token_emb_dim, d)
        self.input_dropout = Dropout(cfg.dropout)
        self.cond_emb = nn.Linear(text_dim, d)
        self.blocks = nn.ModuleList([InterMBlock(cfg, groups) for _ in range(cfg.n_layers)])
        self.head_dense = nn.Linear(d, d)
        self.head_ada = AdaLN(d, 2)
        self.head_out = nn.Linear(d, num_codes)
        self.word_proj = nn.Linear(text_dim, d) if cfg.word_xattn != "none" else None
        if cfg.static_words and self.word_proj is None:
            raise InterMaskError("static_words adds to the word cross-attention's keys; it needs word_xattn "
                                 "'pre' or 'every_block'.")
        self.pre_word = (PreWordCrossAttention(d, cfg.n_heads, cfg.dropout, cfg.attn_dropout)
                         if cfg.word_xattn == "pre" else None)
        self.apply(self._init)
        for m in self.modules():
            if isinstance(m, AdaLN):
                m.zero_()
            if isinstance(m, MultiheadAttention):  # the packed projection keeps nn.MultiheadAttention's init
                nn.init.xavier_uniform_(m.in_proj.weight)
        # built after the init pass, so it keeps PyTorch's default init (as in the official code)
        self.text_head = TextHead(text_dim, cfg.text_head_layers, cfg.text_head_heads, cfg.text_head_ff, 0.1)
        # Zero at the start: a model grown from a checkpoint without it computes what that checkpoint computed.
        self.static_proj = nn.Linear(text_dim, d) if cfg.static_words else None
        if self.static_proj is not None:
            nn.init.zeros_(self.static_proj.weight)
            nn.init.zeros_(self.static_proj.bias)
        # Zero at the start too unless person_embedding_init says otherwise (config.py says why it may).
        self.person_emb = None
        if cfg.person_embedding:
            v = torch.randn(d) * cfg.person_embedding_init
            self.person_emb = nn.Parameter(torch.stack([v, -v]))
        # Sized once for the longest motion of the config; a longer request computes its own (see forward).
        self.register_buffer("pe", positional_encoding_2d(groups, max(1, cfg.max_motion_frames // frames_per_token),
                                                          d), persistent=False)
        self.collective: Collective = LOCAL

    def grown_parameters(self, source: Iterable[str] = ()) -> tuple[str, ...]:
        """Prefixes of parameters that may be absent from a checkpoint this model starts from (``--init-from``),
        whose parameter names are ``source``: at zero, their default start, the model computes exactly what it
        computes without them. Blocks past the checkpoint's depth are among them (``--n-layers`` grown; see
        :meth:`grown_state`)."""
        depth = checkpoint_depth(source)
        return (("static_proj.",) if self.static_proj is not None else ()) + (
            ("person_emb",) if self.person_emb is not None else ()) + tuple(
            f"blocks.{i}." for i in range(depth, len(self.blocks)) if depth > 0)

    def grown_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A shallower checkpoint's weights made to compute, in this deeper model, exactly what they computed.

        Blocks are appended after the checkpoint's. A new block's residual branches are gated by its
        zero-initialised AdaLN, so they add nothing, but its split stage adds its input twice (spatial and
        temporal residuals side by side, as in the paper): the tokens leave it doubled. Only the output head
        reads them, so its first weight is halved once per new block — exact in floating point.
        """
        depth = checkpoint_depth(state)
        if depth == 0 or depth >= len(self.blocks):
            return state
        new = len(self.blocks) - depth
        return {**state, "head_dense.weight": state["head_dense.weight"] * 0.5 ** new}

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def set_collective(self, collective: Collective) -> None:
        self.collective = collective

    def valid_mask(self, token_lengths: torch.Tensor, t: int) -> torch.Tensor:
        """(B,) lengths → (B, 2, G, T') bool, True at real (non-pad) positions."""
        v = torch.arange(t, device=token_lengths.device)[None] < token_lengths[:, None]
        return v[:, None, None, :].expand(-1, 2, self.groups, -1)

    def condition(self, text: TextFeatures, drop_cond: torch.Tensor):
        """Sentence condition (B, d) and word keys for the cross-attention (or None)."""
        keep = ~drop_cond.to(torch.bool)
        if self.cfg.person_words:
            return self._person_condition(text, keep)
        sentence, words = self.text_head(text.sentence, text.words, text.mask)
        cond = self.cond_emb(sentence * keep[:, None].to(sentence.dtype))  # null condition = cond_emb.bias
        if self.word_proj is None:
            return cond, None
        return cond, word_keys(self._keys(words, text.static), text.mask.to(torch.bool), keep)

    def _keys(self, words: torch.Tensor, static: torch.Tensor | None) -> torch.Tensor:
        keys = self.word_proj(words)
        if self.static_proj is not None:
            if static is None:
                raise InterMaskError("This transformer reads static word vectors (static_words); the text "
                                     "features given have none.")
            keys = keys + self.static_proj(layer_norm(static))
        return keys

    def _person_condition(self, text: TextFeatures, keep: torch.Tensor):
        """``condition`` with person_words: word keys (B, 2, W, d) and masks (B, 2, W), one reading per person.

        The two readings always go through the text head together, interleaved sample by sample, so that the
        keyed dropout draws the same for a sample whatever else is in its batch (N processes = 1). A sample whose
        text names no order gets its first reading twice, so it computes what it computes without person_words.
        """
        b = len(text)
        both = TextFeatures.cat([text, text if text.swapped is None else text.swapped])
        both = both.index(torch.arange(2 * b).view(2, b).t().reshape(-1))  # (2B): sample-major readings
        sentence, words = self.text_head(both.sentence, both.words, both.mask)
        w, m = both.words.view(b, 2, *both.words.shape[1:]), both.mask.view(b, 2, -1)
        same = (w[:, 0] == w[:, 1]).flatten(1).all(1) & (m[:, 0] == m[:, 1]).all(1)
        sentence = sentence.view(b, 2, -1)
        sentence = torch.where(same[:, None, None], sentence[:, :1], sentence)
        # The condition both persons share: the mean of the two readings, which names no order.
        cond = self.cond_emb(sentence.mean(1) * keep[:, None].to(sentence.dtype))
        if self.word_proj is None:
            return cond, None
        words = words.view(b, 2, *words.shape[1:])
        words = torch.where(same[:, None, None, None], words[:, :1], words).flatten(0, 1)
        keys, mask, weight = word_keys(self._keys(words, both.static), both.mask.to(torch.bool),
                                       keep.repeat_interleave(2))
        return cond, (keys.view(b, 2, *keys.shape[1:]), mask.view(b, 2, -1), weight.view(b, 2, 1, 1)[:, 0])

    def forward(self, ids: torch.Tensor, token_lengths: torch.Tensor, text: TextFeatures | None,
                drop_cond: torch.Tensor | None, conditioning=None) -> torch.Tensor:
        """``conditioning``: the output of :meth:`condition`, precomputed once per generation (it does not
        change between decoding steps); when given, ``text`` and ``drop_cond`` are ignored."""
        if conditioning is None:
            conditioning = self.condition(text, drop_cond)
        b, _, _, t = ids.shape
        shift, scale = self.head_ada(conditioning[0])
        logits = self._head(self._trunk(ids, token_lengths, conditioning), shift, scale)
        return logits.view(b, 2, self.groups, t, self.num_codes)

    def logits_at(self, ids: torch.Tensor, token_lengths: torch.Tensor, conditioning, rows: torch.Tensor,
                  positions: torch.Tensor) -> torch.Tensor:
        """Logits (M, num_codes) of the M tokens (rows[i], positions[i]), positions indexing the flattened
        (2, G, T') map: the decoding loop re-predicts only the tokens it re-masked, so the output head (the one
        part that works token by token) need not run on the others. Same values as :meth:`forward` there."""
        shift, scale = self.head_ada(conditioning[0])
        hidden = self._trunk(ids, token_lengths, conditioning)
        return self._head(hidden[rows, positions], shift[rows, 0], scale[rows, 0])

    def _trunk(self, ids: torch.Tensor, token_lengths: torch.Tensor, conditioning) -> torch.Tensor:
        """Token maps → hidden states (B, 2·G·T', d) in the order of ``ids.reshape(B, -1)``."""
        b, persons, groups, t = ids.shape
        if persons != 2 or groups != self.groups:
            raise ValueError(f"ids must be (B, 2, {self.groups}, T'); got {tuple(ids.shape)}")
        # Never reassign the buffer here: concurrent requests share the module.
        pe = (self.pe if t <= self.pe.shape[1]
              else positional_encoding_2d(self.groups, t, self.cfg.latent_dim).to(self.pe))
        valid = self.valid_mask(token_lengths, t)
        cond, words = conditioning
        x = self.token_proj(self.token_emb(ids)) + pe[:, :t]
        if self.person_emb is not None:
            x = x + self.person_emb[:, None, None]
        x = x.reshape(b, 2 * self.groups * t, -1)
        sep = self.token_proj(self.token_emb.weight[self.sep_id])[None, None].expand(b, 1, -1)
        x = self.input_dropout(torch.cat([x, sep], dim=1))
        if self.pre_word is not None:
            x = self.pre_word(x, *words)
        for block in self.blocks:
            x = block(x, cond, valid, words)
        return x[:, :-1]

    def _head(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.head_out(modulate(layer_norm(F.gelu(self.head_dense(x))), shift, scale))

    def training_loss(self, ids: torch.Tensor, token_lengths: torch.Tensor, text: TextFeatures,
                      keys: torch.Tensor, touch: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Masked-token loss with BERT corruption and the step-unroll pass; see ``masking.py``."""
        from intermask.models.masking import masked_training_loss

        return masked_training_loss(self, ids, token_lengths, text, keys, touch)
