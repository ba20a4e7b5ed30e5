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


def token_seams(joints: np.ndarray, frames_per_token: int) -> tuple[np.ndarray, np.ndarray]:
    """One person's (T, 22, 3) velocity jumps split into (at each seam between time tokens, at every other frame).

    A streamed reaction is made token by token, so its seams lie between frames 4k − 1 and 4k; the velocity that
    crosses a seam enters the jumps of both frames, and the larger one is the seam's.
    """
    jumps = velocity_jumps(joints)
    t = len(jumps)
    starts = np.arange(frames_per_token, t - 1, frames_per_token)
    seam = np.maximum(jumps[starts - 1], jumps[starts])
    inside = np.ones(t, dtype=bool)
    inside[[0, t - 1]] = False
    inside[starts - 1] = inside[starts] = False
    return seam, jumps[inside]


def seam_summary(joints: list[np.ndarray], frames_per_token: int, reference_p95: float) -> dict[str, float]:
    """Token-seam continuity of a set of clips of one person: median and 95th percentile of the jumps at seams and
    the median elsewhere (m/frame²), and the share of seams jumping more than ``reference_p95`` (the ground
    truth's 95th percentile of frame-to-frame jumps: about 5 % for motion without seams)."""
    parts = [token_seams(j, frames_per_token) for j in joints]
    seam = np.concatenate([s for s, _ in parts])
    inside = np.concatenate([i for _, i in parts])
    return {"seam_median": float(np.median(seam)), "seam_p95": float(np.percentile(seam, 95)),
            "inside_median": float(np.median(inside)), "seams_over_gt_p95": float(np.mean(seam > reference_p95))}
