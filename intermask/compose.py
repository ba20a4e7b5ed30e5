"""Long interactions from a timeline of (text, seconds) segments by temporal out-painting.

The model sees at most ``model.max_tokens`` time tokens (10 s for the shipped models). A longer piece is generated
window by window: each new window starts with the last ``CONTEXT_TOKENS`` time tokens of what exists so far,
re-expressed in the frame the model was trained in (person A at the origin facing +Z) and re-encoded by the VQ;
those tokens are held fixed (in-painting context) while the rest of the window is sampled under the current
segment's text. The window is decoded, moved back into the world frame and cross-faded over the context frames,
so the seam has no jump in position or velocity.

``model`` is an :class:`intermask.api.InterMask`; only its public methods are used.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from intermask.motion.features import FPS, features_to_joints, features_to_rot6d
from intermask.motion.frames import facing_frame
from intermask.motion.interaction import Interaction
from intermask.sampling import Progress, decode_rounds, masked_decode
from intermask.settings import SamplingSettings
from intermask.validation import check_timeline

CONTEXT_TOKENS = 12


def plan_chunks(timeline: Sequence[tuple[str, float]], window_tokens: int,
                frames_per_token: int) -> list[tuple[str, int, int]]:
    """Split the timeline into windows: (text, new tokens, segment index); with its context, a window holds at
    most ``window_tokens``."""
    chunks = []
    first = True
    for index, (text, seconds) in enumerate(check_timeline(timeline)):
        remaining = int(round(seconds * FPS / frames_per_token))
        while remaining > 0:
            room = window_tokens if first else window_tokens - CONTEXT_TOKENS
            take = min(room, remaining)
            chunks.append((text, take, index))
            remaining -= take
            first = False
    return chunks


def compose(model, timeline: Sequence[tuple[str, float]], seed: int, settings: SamplingSettings,
            progress: Progress | None = None) -> Interaction:
    fpt = model.frames_per_token
    chunks = plan_chunks(timeline, model.max_tokens, fpt)
    gen = torch.Generator().manual_seed(int(seed))
    # A chunk's free tokens: both persons' new ones (the context's are given).
    steps = [sum(decode_rounds(settings, torch.ones(1, 2, model.groups, n, dtype=torch.bool))) for _, n, _ in chunks]
    steps_total = sum(steps)
    done = [0]

    def chunk_progress(i: int, n: int) -> None:
        if progress is not None:
            progress(done[0] + i, steps_total)

    world = None  # (2, T, 262) de-normalised, world frame
    boundaries = []
    for (text, new_tokens, _), chunk_steps in zip(chunks, steps):
        text_feats = model.text_features([text])
        if world is None:
            tokens = new_tokens
            ids = masked_decode(model.transformer, text_feats, torch.tensor([tokens]), tokens, settings, gen,
                                progress=chunk_progress)
            world = model.decode_tokens(ids, tokens * fpt)[0]
        else:
            ctx_tokens = min(CONTEXT_TOKENS, world.shape[1] // fpt)  # a short first segment
            ctx_frames = ctx_tokens * fpt
            context = world[:, -ctx_frames:]
            frame = facing_frame(features_to_joints(context[0]), floor=0.0)
            fixed_codes = model.encode_tokens(frame.features_to_canonical(context))  # (2, groups, C)
            tokens = ctx_tokens + new_tokens
            fixed = torch.full((1, 2, model.groups, tokens), -1, dtype=torch.long)
            fixed[0, :, :, :ctx_tokens] = fixed_codes
            ids = masked_decode(model.transformer, text_feats, torch.tensor([tokens]), tokens, settings, gen,
                                fixed=fixed, progress=chunk_progress)
            window = frame.features_to_world(model.decode_tokens(ids, tokens * fpt)[0])
            # Cross-fade over the context frames: old motion hands over to the re-decoded window smoothly.
            w = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ctx_frames)))[None, :, None].astype(np.float32)
            blended = (1 - w) * context + w * window[:, :ctx_frames]
            boundaries.append(world.shape[1])
            world = np.concatenate([world[:, :-ctx_frames], blended, window[:, ctx_frames:]], axis=1)
        done[0] += chunk_steps
    texts = [t for t, _ in timeline]
    meta = {"checkpoint": model.checkpoint_dir.name, "seed": int(seed), "mode": "compose",
            "timeline": [[t, float(s)] for t, s in timeline], "seams": boundaries, **settings.as_dict()}
    return Interaction(joints=features_to_joints(world), rot6d=features_to_rot6d(world), fps=FPS,
                       text=" | ".join(texts), features=world, meta=meta)
