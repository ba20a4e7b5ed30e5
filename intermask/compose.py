"""Long interactions from a timeline of (text, seconds) segments by temporal out-painting.

The model sees at most 10 s (75 time tokens). A longer piece is generated window by window: each new window
starts with the last ``CONTEXT_TOKENS`` time tokens of what exists so far, re-expressed in the frame the model was
trained in (person A at the origin facing +Z) and re-encoded by the VQ; those tokens are held fixed (in-painting
context) while the rest of the window is sampled under the current segment's text. The window is decoded, moved back
into the world frame and cross-faded over the context frames, so the seam has no jump in position or velocity.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from intermask.errors import InterMaskError
from intermask.motion.features import features_to_joints, features_to_rot6d
from intermask.motion.frames import facing_frame
from intermask.motion.interaction import FPS, Interaction
from intermask.sampling import masked_decode

MAX_WINDOW_TOKENS = 75
CONTEXT_TOKENS = 12
FRAMES_PER_TOKEN = 4


def plan_chunks(timeline: Sequence[tuple[str, float]]) -> list[tuple[str, int, int]]:
    """Split the timeline into windows: (text, new tokens, segment index), each window ≤ 75 tokens with context."""
    from intermask.api import MAX_COMPOSE_SECONDS, MIN_SECONDS, _check_range, _check_text

    if not timeline:
        raise InterMaskError("The timeline is empty: give at least one (text, seconds) segment.")
    segments = []
    for i, item in enumerate(timeline):
        try:
            text, seconds = item
        except (TypeError, ValueError):
            raise InterMaskError(f"Timeline entry {i + 1} must be a (text, seconds) pair; got {item!r}.") from None
        segments.append((_check_text(text), _check_range(f"Seconds of segment {i + 1}", seconds, MIN_SECONDS, 30.0)))
    total = sum(s for _, s in segments)
    if total > MAX_COMPOSE_SECONDS:
        raise InterMaskError(f"The timeline lasts {total:g} s; at most {MAX_COMPOSE_SECONDS:g} s are accepted.")
    chunks = []
    first = True
    for index, (text, seconds) in enumerate(segments):
        remaining = int(round(seconds * FPS / FRAMES_PER_TOKEN))
        while remaining > 0:
            room = MAX_WINDOW_TOKENS if first else MAX_WINDOW_TOKENS - CONTEXT_TOKENS
            take = min(room, remaining)
            chunks.append((text, take, index))
            remaining -= take
            first = False
    return chunks


def compose(model, timeline: Sequence[tuple[str, float]], seed: int, settings, foot_cleanup: bool = False,
            progress=None) -> Interaction:
    chunks = plan_chunks(timeline)
    gen = torch.Generator().manual_seed(int(seed))
    steps_total = settings.time_steps * len(chunks)
    done = [0]

    def chunk_progress(i: int, n: int) -> None:
        if progress is not None:
            progress(done[0] + i, steps_total)

    world = None  # (2, T, 262) de-normalised, world frame
    boundaries = []
    for text, new_tokens, _ in chunks:
        text_feats = model.text_encoder.encode([text])
        if world is None:
            tokens = new_tokens
            ids = masked_decode(model.transformer, text_feats, torch.tensor([tokens]), tokens,
                                settings.sampling(), gen, progress=chunk_progress)
            world = model._decode(ids, tokens * FRAMES_PER_TOKEN)[0]
        else:
            ctx_tokens = min(CONTEXT_TOKENS, world.shape[1] // FRAMES_PER_TOKEN)  # a short first segment
            ctx_frames = ctx_tokens * FRAMES_PER_TOKEN
            context = world[:, -ctx_frames:]
            frame = facing_frame(features_to_joints(context[0]), floor=0.0)
            fixed_codes = model._encode(frame.features_to_canonical(context))  # (2, 5, C)
            tokens = ctx_tokens + new_tokens
            fixed = torch.full((1, 2, 5, tokens), -1, dtype=torch.long)
            fixed[0, :, :, :ctx_tokens] = fixed_codes
            ids = masked_decode(model.transformer, text_feats, torch.tensor([tokens]), tokens,
                                settings.sampling(), gen, fixed=fixed, progress=chunk_progress)
            window = frame.features_to_world(model._decode(ids, tokens * FRAMES_PER_TOKEN)[0])
            # Cross-fade over the context frames: old motion hands over to the re-decoded window smoothly.
            w = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ctx_frames)))[None, :, None].astype(np.float32)
            blended = (1 - w) * context + w * window[:, :ctx_frames]
            boundaries.append(world.shape[1])
            world = np.concatenate([world[:, :-ctx_frames], blended, window[:, ctx_frames:]], axis=1)
        done[0] += settings.time_steps
    texts = [t for t, _ in timeline]
    meta = {"checkpoint": model.checkpoint_dir.name, "seed": int(seed), "mode": "compose",
            "timeline": [[t, float(s)] for t, s in timeline], "seams": boundaries, **vars(settings)}
    clip = Interaction(joints=features_to_joints(world), rot6d=features_to_rot6d(world), fps=FPS,
                       text=" | ".join(texts), features=world, meta=meta)
    return model._cleanup(clip) if foot_cleanup else clip
