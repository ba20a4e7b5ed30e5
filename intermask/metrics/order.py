"""Does a transformer follow the words that name the persons by order? A likelihood test, without sampling.

For clips with a description that names a person by order ("the first person kicks the second one"), the
transformer scores the clip's true token map from a fully masked input (the first decoding step, where who acts is
decided) under that description and under the description with "first" and "second" exchanged. A model that follows
the order words gives the true map a lower negative log-likelihood under the description; a model that cannot tell
its persons apart gives both exactly the same. Much finer than sampling prompts and checking who acts (96 samples
are ±10 points there), and cheap enough for the training probe.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from intermask.data.person_order import swap_person_order


def order_clips(data_root: str | Path, split: str, limit: int = 0) -> list[tuple[object, str]]:
    """(clip, its first description that names a person by order) for the clips of ``split`` that have one."""
    from intermask.data.interhuman import load_clip, split_ids

    chosen = []
    for cid in split_ids(data_root, split):
        clip = load_clip(data_root, cid)
        text = next((t.strip() for t in clip.texts if swap_person_order(t) != t), None)
        if text is not None:
            chosen.append((clip, text))
            if limit and len(chosen) >= limit:
                break
    return chosen


@torch.no_grad()
def clip_nll(model, clip, text: str) -> tuple[float, float]:
    """(NLL under ``text``, NLL under ``text`` with the order words exchanged), nats per token of the clip's true
    token map. ``model``: an :class:`intermask.api.InterMask`."""
    fpt = model.frames_per_token
    t = (min(clip.frames, model.transformer.cfg.max_motion_frames) - 1) // fpt
    ids = model.encode_tokens(np.stack([clip.f1[:fpt * t], clip.f2[:fpt * t]])[None])  # (1, 2, G, T')
    tr = model.transformer
    masked = torch.full_like(ids, tr.mask_id)
    lengths, keep = torch.tensor([t]), torch.tensor([False])
    out = []
    for words in (text, swap_person_order(text)):
        logits = tr(masked, lengths, model.text_features([words]), keep)
        out.append(float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1))))
    return out[0], out[1]


def order_sensitivity(model, clips: list[tuple[object, str]], progress: bool = False) -> dict[str, float]:
    """Mean gain (swapped NLL − true NLL, nats per token; higher: the words are followed), its 95% interval and
    the share of clips where the true description wins."""
    from tqdm import tqdm

    gains = np.array([np.subtract(*clip_nll(model, c, t)[::-1])
                      for c, t in tqdm(clips, desc="order sensitivity", unit="clip", disable=not progress)])
    n = len(gains)
    return {"clips": n, "mean_gain_nats_per_token": float(gains.mean()) if n else float("nan"),
            "gain_ci95": float(1.96 * gains.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
            "true_wins": float((gains > 0).mean()) if n else float("nan")}
