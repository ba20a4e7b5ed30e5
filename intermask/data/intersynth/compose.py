"""One InterSynth clip from a seed: pick a category, place the persons, build (solo → interaction → solo
for composites), add idle life, solve both skeletons, and label and describe the result."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intermask import skeleton as sk
from intermask.data.intersynth import moves, text
from intermask.data.intersynth.categories import CATEGORIES, REGISTRY
from intermask.data.intersynth.categories.locomotion import approach, walk_away
from intermask.data.intersynth.scene import MAX_FRAMES, Scene
from intermask.errors import InterMaskError

MIN_FRAMES = 60
COMPOSITE_RATE = 0.3


@dataclass
class SynthClip:
    joints: np.ndarray  # (2, T, 22, 3) float32, Y-up, floor at 0
    rot6d: np.ndarray  # (2, T, 21, 6) float32 local rotations of joints 1..21
    label: dict
    texts: list[str]


def clip_seed(seed: int, index: int) -> int:
    """Per-clip seed from the data set seed and the clip index (independent of the number of workers)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _base_label(category: str, res: dict) -> dict:
    label = {"category": category}
    label.update(res["label"])
    return label


def generate_clip(seed: int, category: str | None = None, composite: bool | None = None) -> SynthClip:
    """Build one clip. ``category`` forces a category (see CATEGORIES); ``composite`` forces the wrapping."""
    if category is not None and category not in REGISTRY:
        raise InterMaskError(f"Unknown InterSynth category '{category}'; choose one of: {', '.join(CATEGORIES)}.")
    rng = np.random.default_rng(seed)
    category = category or str(rng.choice(CATEGORIES))
    builder, dist_range, kind = REGISTRY[category]
    if composite is None:
        composite = kind != "locomotion" and rng.random() < COMPOSITE_RATE
    elif composite and kind == "locomotion":
        raise InterMaskError(f"The category '{category}' moves on its own and cannot be wrapped in a composite clip.")
    sc = Scene(rng)
    for tr in sc.tracks:
        tr.look_w[:] = 0.75
    dist = rng.uniform(*dist_range) * sc.stature
    parts: list[tuple[str, int, int, dict]] = []
    t = 0
    if composite:
        sc.place_facing(rng.uniform(3.0, 5.0))
        res = approach(sc, 0, rng, stop_distance=dist)
        parts.append(("approach", 0, res["end"], _base_label("approach", res)))
        t = res["end"]
    else:
        sc.place_facing(dist)
        if kind != "locomotion" and rng.random() < 0.5:
            # Start turned a little away, then turn to face the partner.
            for p in (0, 1):
                sc.tracks[p].heading[:] += rng.uniform(-0.6, 0.6)
            t = max(sc.face_partner(p, 0, rng.uniform(0.6, 0.9)) for p in (0, 1))
    res = builder(sc, t, rng)
    main = _base_label(category, res)
    parts.append((category, t, res["end"], main))
    t = res["end"]
    if composite and t < MAX_FRAMES - 75:
        res = walk_away(sc, t, rng)
        parts.append(("walk_away", t, res["end"], _base_label("walk_away", res)))
        t = res["end"]
    frames = int(np.clip(t, MIN_FRAMES, MAX_FRAMES))
    for p in (0, 1):
        moves.idle(sc, p, rng)
        sc.tracks[p].look_at[:] = sc.landmark(1 - p, 15)
    joints, local = sc.render(frames)
    rot6d = sk.matrix_to_rot6d(local[:, :, 1:])
    label = dict(main)
    label["composite"] = bool(composite)
    label["segments"] = [{"category": c, "start_frame": int(a), "end_frame": int(min(b, frames))}
                         for c, a, b, _ in parts if a < frames]
    label["frames"] = frames
    label["stature"] = [round(b.stature, 3) for b in sc.bodies]
    texts = text.describe([lab for c, a, b, lab in parts if a < frames], rng)
    return SynthClip(joints.astype(np.float32), rot6d.astype(np.float32), label, texts)
