"""Seam continuity: how much the joint velocities change from one frame to the next, at a seam and in general.

A spliced motion (an edit, a composition) is continuous at a seam when the velocity jump there is within the
frame-to-frame velocity changes that real motion has; ``bench/edit_eval.py`` compares both on InterSynth test clips.
"""
from __future__ import annotations

import numpy as np


def velocity_jumps(joints: np.ndarray) -> np.ndarray:
    """(T,) the largest change of a joint's velocity at each frame, over both persons and all joints, in metres per
    frame: at frame t, |(x[t+1] − x[t]) − (x[t] − x[t−1])|; the first and last frames (no change defined) are 0.

    joints: (2, T, 22, 3) or (T, 22, 3).
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim == 3:
        j = j[None]
    out = np.zeros(j.shape[1])
    if j.shape[1] >= 3:
        change = np.linalg.norm(j[:, 2:] - 2 * j[:, 1:-1] + j[:, :-2], axis=-1)  # (P, T − 2, 22)
        out[1:-1] = change.max(axis=(0, 2))
    return out


def seam_jump(joints: np.ndarray, first_new: int, stop: int, reach: int) -> dict[str, float | None]:
    """The largest velocity jump around each seam of a regenerated span [first_new, stop): from the last kept frame
    into ``reach`` frames of the span at the start, and mirrored at the end (None where the span touches the clip's
    start or end, so there is no seam)."""
    jumps = velocity_jumps(joints)
    t = len(jumps)
    start = float(jumps[first_new - 1: min(first_new + reach, stop)].max()) if first_new > 0 else None
    end = float(jumps[max(stop - reach, first_new): stop + 1].max()) if stop < t else None
    return {"start": start, "end": end}
