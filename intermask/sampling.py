"""Masked iterative decoding of both persons' token maps.

One loop serves text-to-interaction, reaction (person A's tokens fixed) and temporal in/out-painting (any subset of
tokens fixed): tokens that are given are never masked, the rest start as [MASK] and are filled over ``time_steps``
rounds (more for long clips: ``SamplingSettings.steps_for``) following the cosine schedule, re-masking the least
confident predictions each round.

Differences from the official code, on purpose:
- the conditional and unconditional passes of classifier-free guidance run as one batched forward, and only the
  tokens re-masked in a round go through the output head and the sampler (the others keep their code anyway);
- the temperature really changes sampling: tokens are drawn from softmax(top-k(logits) / temperature) with
  Gumbel-max noise from a local generator (the official categorical mode divides probabilities, which the
  renormalisation undoes); temperature 0 means greedy;
- the unconditional pass drops the word features as well as the sentence vector (the fork this code started
  from kept the words, so its "unconditional" branch still saw the text).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from intermask.settings import SamplingSettings
from intermask.text.base import TextFeatures

Progress = Callable[[int, int], None]


def cosine_schedule(t: torch.Tensor) -> torch.Tensor:
    """Fraction of free tokens still masked at progress t ∈ [0, 1]."""
    return torch.cos(t * math.pi / 2)


def valid_token_mask(token_lengths: torch.Tensor, num_time: int, groups: int) -> torch.Tensor:
    """(B, 2, groups, T') True where the time index is inside each sample's length."""
    t = torch.arange(num_time, device=token_lengths.device)
    valid = t[None, :] < token_lengths[:, None]
    return valid[:, None, None, :].expand(-1, 2, groups, -1)


def top_k_filter(logits: torch.Tensor, ratio: float) -> torch.Tensor:
    """Keep the ⌈(1 − ratio)·K⌉ largest logits along the last axis; the rest become −inf."""
    k = max(1, math.ceil((1.0 - ratio) * logits.shape[-1]))
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def _gumbel(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=generator).clamp_(1e-10, 1 - 1e-10)
    return -torch.log(-torch.log(u))


def guided_logits(model, ids: torch.Tensor, token_lengths: torch.Tensor, conditioning, cond_scale: float,
                  select: torch.Tensor) -> torch.Tensor:
    """u + s·(c − u) at the tokens where ``select`` (B, 2·G·T') is True → (M, num_codes), in the order of
    ``ids.reshape(B, -1)[select]``; both branches run in one forward pass, and s = 1 skips the unconditional one.

    ``conditioning`` comes from :func:`prepare_conditioning` with the same ``cond_scale``.
    """
    rows, positions = select.nonzero(as_tuple=True)
    if cond_scale == 1.0:
        return model.logits_at(ids, token_lengths, conditioning, rows, positions)
    b, m = ids.shape[0], rows.shape[0]
    both = model.logits_at(torch.cat([ids, ids]), torch.cat([token_lengths, token_lengths]), conditioning,
                           torch.cat([rows, rows + b]), torch.cat([positions, positions]))
    cond, uncond = both[:m], both[m:]
    return uncond + cond_scale * (cond - uncond)


def prepare_conditioning(model, text: TextFeatures, cond_scale: float):
    """The text condition of every decoding step, computed once: [conditional; unconditional] rows for CFG.

    The unconditional rows drop the sentence vector and the word features (the fork kept the words).
    """
    b = len(text)
    if cond_scale == 1.0:
        return model.condition(text, torch.zeros(b, dtype=torch.bool))
    return model.condition(TextFeatures.cat([text, text]),
                           torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)]))


def _predict(model, ids: torch.Tensor, token_lengths: torch.Tensor, conditioning, settings: SamplingSettings,
             remask: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes and their confidences (M,) for the re-masked tokens only: the others keep their code whatever the
    logits say, so neither the output head nor the sampling runs on them."""
    logits = guided_logits(model, ids, token_lengths, conditioning, settings.cond_scale, remask).float()
    filtered = top_k_filter(logits, settings.topk_ratio)
    if settings.temperature <= 0:
        pred = filtered.argmax(-1)
    else:
        pred = (filtered / settings.temperature + _gumbel(filtered.shape, generator)).argmax(-1)
    conf = torch.softmax(logits, dim=-1).gather(-1, pred[:, None])[:, 0]
    return pred, conf


def second_pass_tokens(free: torch.Tensor) -> torch.Tensor:
    """(B, 2, G, T') bool: the second person's free tokens in the samples where both persons have free tokens, which
    a second pass decodes again with everything else held (where the first person is given, the second was already
    decoded given it)."""
    both = free[:, 0].flatten(1).any(1) & free[:, 1].flatten(1).any(1)
    redo = free & both[:, None, None, None]
    redo[:, 0] = False
    return redo


def decode_rounds(settings: SamplingSettings, free: torch.Tensor) -> tuple[int, int]:
    """Rounds of the first and of the second pass that :func:`masked_decode` runs for maps whose free tokens are
    ``free`` (B, 2, G, T') bool: what a progress bar counts before decoding starts."""
    return _rounds(settings, free, second_pass_tokens(free))


def _rounds(settings: SamplingSettings, free: torch.Tensor, redo: torch.Tensor) -> tuple[int, int]:
    b = free.shape[0]
    return (settings.steps_for(int(free.reshape(b, -1).sum(1).max())),
            settings.second_pass_steps(int(redo.reshape(b, -1).sum(1).max())))


def _fill(model, ids: torch.Tensor, free: torch.Tensor, token_lengths: torch.Tensor, conditioning,
          settings: SamplingSettings, steps: int, generator: torch.Generator,
          progress: Progress | None) -> torch.Tensor:
    """``steps`` rounds of masked decoding of the ``free`` tokens of ``ids`` (the others are read, never changed)."""
    b = ids.shape[0]
    flat_free = free.reshape(b, -1)
    n_free = flat_free.sum(1)
    scores = torch.where(flat_free, 0.0, 1e5)
    for step, tau in enumerate(torch.linspace(0, 1, steps)):
        # Re-mask the k least confident free tokens of each sample (k follows the cosine schedule).
        k = torch.clamp(torch.round(cosine_schedule(tau) * n_free), min=1).long()
        k = torch.minimum(k, n_free)
        rank = scores.argsort(dim=1).argsort(dim=1)
        remask = (rank < k[:, None]) & flat_free
        flat = ids.reshape(b, -1)
        flat[remask] = model.mask_id
        # As in MaskGIT and the official code, a token that survives a round is final.
        scores = torch.full_like(scores, 1e5)
        if remask.any():  # (nothing to predict when every token is given)
            flat[remask], scores[remask] = _predict(model, flat.view(ids.shape), token_lengths, conditioning,
                                                    settings, remask, generator)
        ids = flat.reshape(ids.shape)
        if progress is not None:
            progress(step + 1, steps)
    return ids


@torch.no_grad()
def masked_decode(model, text: TextFeatures, token_lengths: torch.Tensor, num_time: int,
                  settings: SamplingSettings, generator: torch.Generator, fixed: torch.Tensor | None = None,
                  progress: Progress | None = None, conditioning=None) -> torch.Tensor:
    """Fill every free, valid token of a (B, 2, G, T') map, G = ``model.groups``.

    fixed: optional (B, 2, G, T') long tensor holding given codes and −1 where the model must decide.
    conditioning: :func:`prepare_conditioning` of ``text`` with ``settings.cond_scale``, for callers that decode
    many maps with one text (a stream decodes one per new token); ``text`` is then not read.
    With ``settings.second_pass`` the second person's free tokens are decoded once more afterwards, with every other
    code held (:func:`second_pass_tokens`): as in a reaction, that person is then made knowing the whole of the
    first, instead of both being settled together round by round. ``progress`` counts the rounds of both passes.
    Returns codes (B, 2, G, T') with −1 at padded positions.
    """
    b = token_lengths.shape[0]
    groups = model.groups
    valid = valid_token_mask(token_lengths, num_time, groups)
    given = valid & (fixed >= 0) if fixed is not None else torch.zeros_like(valid)
    free = valid & ~given
    ids = torch.full((b, 2, groups, num_time), model.pad_id, dtype=torch.long)
    ids[free] = model.mask_id
    if fixed is not None:
        ids[given] = fixed[given]
    if conditioning is None:
        conditioning = prepare_conditioning(model, text, settings.cond_scale)
    redo = second_pass_tokens(free)
    steps, second = _rounds(settings, free, redo)

    def report(offset: int) -> Progress | None:
        return None if progress is None else (lambda i, _n: progress(offset + i, steps + second))

    ids = _fill(model, ids, free, token_lengths, conditioning, settings, steps, generator, report(0))
    if second:
        ids = _fill(model, ids, redo, token_lengths, conditioning, settings, second, generator,
                    report(steps))
    return ids.masked_fill(~valid, -1)
