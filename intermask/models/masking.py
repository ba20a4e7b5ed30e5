"""The masked-token training objective of the Inter-M transformer, driven by keyed random numbers.

Per sample (every draw keyed by the sample's key, so any split of the batch over processes gives the same
masks):

1. mode: with probability ``interaction_mask_prob`` one whole person is masked (which one: a fair coin) and the
   other stays visible — this is what lets reaction generation work without fine-tuning; otherwise a cosine
   schedule masks ``max(1, round(N·cos(πu/2)))`` of the N valid tokens, u ~ U(0, 1), at random positions. The
   official code draws the mode once per batch and splits the batch in halves; drawing it per sample keeps the
   same expected mix and makes it independent of how a batch is split.
2. BERT corruption of masked inputs: 10 % a random code, 79.2 % (0.9 · 0.88) [MASK], the rest unchanged.
3. condition dropout with probability ``cond_drop_prob`` (sentence and words).
4. step-unroll: a second pass where the most confident predictions of pass 1 fill the [MASK] inputs, leaving the
   number of masks the cosine schedule gives one step (1/21) later.

Losses are sums over masked tokens divided by the masked-token count over all processes. With ``touch_weight``
W > 0 and per-time-step touch weights from the data (``train/tokens.touch_by_token``: 1 where a wrist is on the
partner, exp(−d / 0.1 m) near it), each masked token's loss is multiplied by 1 + W·touch of its time step; the
divisor stays the count, so the other tokens keep their weight and the touching ones gain.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from intermask.models import keyed_random as kr
from intermask.text.base import TextFeatures

IGNORE = -100


def cosine_mask(valid: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """valid (B, 2, 5, T') → random-mode mask: the n lowest keyed uniforms among valid positions."""
    b = valid.shape[0]
    flat_valid = valid.reshape(b, -1)
    n_valid = flat_valid.sum(1)
    u = kr.uniform(keys, kr.STREAM_RATIO, 1)[:, 0]
    n = (n_valid.float() * torch.cos(math.pi * u / 2)).round().long().clamp(min=1)
    score = kr.uniform(keys, kr.STREAM_PERM, flat_valid.shape[1]).masked_fill(~flat_valid, 2.0)
    rank = score.argsort(dim=1, stable=True).argsort(1)
    return ((rank < n[:, None]) & flat_valid).view_as(valid)


def choose_masks(valid: torch.Tensor, keys: torch.Tensor, interaction_prob: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (B, 2, 5, T') bool, interaction-mode flag (B,) bool)."""
    u = kr.uniform(keys, kr.STREAM_MODE, 2)
    interaction = u[:, 0] < interaction_prob
    person = (u[:, 1] < 0.5).long()  # which person is fully masked in interaction mode
    whole = torch.arange(2, device=valid.device)[None] == person[:, None]
    inter_mask = whole[:, :, None, None] & valid
    mask = torch.where(interaction[:, None, None, None], inter_mask, cosine_mask(valid, keys))
    return mask, interaction


def bert_corrupt(ids: torch.Tensor, mask: torch.Tensor, keys: torch.Tensor, num_codes: int, mask_id: int
                 ) -> torch.Tensor:
    b = ids.shape[0]
    u = kr.uniform(keys, kr.STREAM_BERT, ids[0].numel()).view_as(ids)
    code = (kr.uniform(keys, kr.STREAM_BERT_CODE, ids[0].numel()).view_as(ids) * num_codes).long()
    code = code.clamp_(max=num_codes - 1)
    out = torch.where(mask & (u < 0.1), code, ids)
    return torch.where(mask & (u >= 0.1) & (u < 0.1 + 0.9 * 0.88), torch.full_like(ids, mask_id), out).view(b, *ids.shape[1:])


def _ce(model, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sum-CE / global count, correct count, global count); ``weights`` (B, T') scale each time step's tokens."""
    sel = labels != IGNORE
    local = torch.stack([sel.sum().float(), (logits.argmax(-1).eq(labels) & sel).sum().float()])
    total = model.collective.sum(local.clone())
    if weights is None:
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE,
                             reduction="sum")
    else:
        each = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE,
                               reduction="none").view_as(labels)
        ce = (each * weights[:, None, None, :]).sum()
    return ce / total[0].clamp_min(1), total[1], total[0]


def unroll_inputs(x_in: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor,
                  mask_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill the [MASK] inputs with pass-1 predictions except the least confident, per the next schedule step."""
    b = x_in.shape[0]
    is_mask = (x_in == mask_id).reshape(b, -1)
    n_valid = valid.reshape(b, -1).sum(1).clamp_min(1).float()
    r_prev = is_mask.sum(1).float() / n_valid
    t_next = (torch.arccos(r_prev.clamp(0, 1)) * 2 / math.pi + 1 / 21).clamp(max=1.0)
    n_next = (n_valid * torch.cos(math.pi * t_next / 2)).round().long().clamp(min=1)
    probs = logits.detach().float().softmax(-1).reshape(b, -1, logits.shape[-1])
    conf, pred = probs.max(-1)
    conf = conf.masked_fill(~is_mask, 1e5)
    rank = conf.argsort(dim=1, stable=True).argsort(1)
    fill = is_mask & (rank >= n_next[:, None])
    x2 = torch.where(fill, pred, x_in.reshape(b, -1)).view_as(x_in)
    labels2 = labels.reshape(b, -1).masked_fill(fill, IGNORE).view_as(labels)
    return x2, labels2


def token_weights(touch: torch.Tensor | None, touch_weight: float) -> torch.Tensor | None:
    """(B, T') touch weights → the loss weight of each time step's tokens (None: all 1)."""
    if touch is None or not touch_weight:
        return None
    return 1.0 + touch_weight * touch.float()


def masked_training_loss(model, ids: torch.Tensor, token_lengths: torch.Tensor, text: TextFeatures,
                         keys: torch.Tensor, touch: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``touch``: optional (B, T') per-time-step touch weights (ignored unless ``touch_weight`` > 0)."""
    cfg = model.cfg
    weights = token_weights(touch, cfg.touch_weight)
    if weights is not None:
        weights = weights.to(ids.device)
    keys = keys.to(ids.device)
    valid = model.valid_mask(token_lengths, ids.shape[-1])
    ids = torch.where(valid, ids, torch.full_like(ids, model.pad_id))
    mask, interaction = choose_masks(valid, keys, cfg.interaction_mask_prob)
    labels = torch.where(mask, ids, torch.full_like(ids, IGNORE))
    x_in = bert_corrupt(ids, mask, keys, model.num_codes, model.mask_id)
    drop_cond = kr.uniform(keys, kr.STREAM_COND, 1)[:, 0] < cfg.cond_drop_prob
    with kr.scope(keys):
        logits = model(x_in, token_lengths, text, drop_cond)
        ce1, correct1, count1 = _ce(model, logits, labels, weights)
        out = {"loss": ce1, "ce1": ce1.detach(), "acc": correct1 / count1.clamp_min(1),
               "masked_tokens": count1, "interaction_frac": interaction.float().mean()}
        if cfg.step_unroll > 0:
            x2, labels2 = unroll_inputs(x_in, logits, labels, valid, model.mask_id)
            logits2 = model(x2, token_lengths, text, drop_cond)
            ce2, correct2, count2 = _ce(model, logits2, labels2, weights)
            out["loss"] = ce1 + cfg.step_unroll * ce2
            out["ce2"] = ce2.detach()
            out["acc"] = (out["acc"] + correct2 / count2.clamp_min(1)) / 2
    return out
