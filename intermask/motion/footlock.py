"""Foot locking that keeps bone lengths.

The official post-process pins the four foot joints to their mean contact positions and leaves the knees where they
were, which stretches the shins. Here each ankle is pinned during its detected contact runs (with eased
transitions), the knee is re-solved by two-bone IK with the original knee as the pole so thigh and shin keep their
lengths, and the toe moves rigidly with the ankle. The leg rotations are then re-derived from the new joints.
"""
from __future__ import annotations

import numpy as np

from intermask import skeleton as sk
from intermask.motion.interaction import Interaction

LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))  # hip, knee, ankle, toe
BLEND_FRAMES = 5


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _ease(x: np.ndarray) -> np.ndarray:
    return 2 * x ** 3 - 3 * x ** 2 + 1  # 1 at the contact, 0 BLEND_FRAMES away


def ankle_targets(joints: np.ndarray, ankle: int, toe: int) -> np.ndarray:
    """Where each ankle should be: pinned to its run mean during contact, eased back around it."""
    t = joints.shape[0]
    pos = joints[:, ankle].astype(np.float64)
    vel2 = np.zeros(t)
    vel2[:-1] = ((pos[1:] - pos[:-1]) ** 2).sum(-1)
    vel2[-1] = vel2[-2] if t > 1 else 0.0
    floor = joints[..., 1].min()
    contact = (vel2 < sk.FOOT_VELOCITY_THRESHOLD) & (pos[:, 1] - floor < sk.FOOT_HEIGHT_THRESHOLDS[0]) \
        & (joints[:, toe, 1] - floor < sk.FOOT_HEIGHT_THRESHOLDS[0])
    target = pos.copy()
    weight = np.zeros(t)
    pinned = pos.copy()
    for start, stop in _runs(contact):
        anchor = pos[start:stop].mean(0)
        pinned[start:stop] = anchor
        weight[start:stop] = 1.0
        for d in range(1, BLEND_FRAMES + 1):
            w = _ease(np.array(d / (BLEND_FRAMES + 1)))
            for f in (start - d, stop - 1 + d):
                if 0 <= f < t and w > weight[f]:
                    weight[f] = w
                    pinned[f] = anchor
    target = weight[:, None] * pinned + (1 - weight[:, None]) * pos
    return target


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle_target: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """New knee positions (T, 3) so that |hip−knee| = l1 and |knee−ankle_target| = l2, bending toward the old knee."""
    d_vec = ankle_target - hip
    d = np.clip(np.linalg.norm(d_vec, axis=-1), 1e-6, l1 + l2 - 1e-6)
    axis = d_vec / np.linalg.norm(d_vec, axis=-1, keepdims=True).clip(1e-9)
    # Distance along the hip→ankle axis to the knee's projection, and the knee's offset from that axis.
    a = (l1 ** 2 - l2 ** 2 + d ** 2) / (2 * d)
    h = np.sqrt(np.clip(l1 ** 2 - a ** 2, 0.0, None))
    pole = knee - hip
    pole = pole - (pole * axis).sum(-1, keepdims=True) * axis
    pole /= np.linalg.norm(pole, axis=-1, keepdims=True).clip(1e-9)
    return hip + a[:, None] * axis + h[:, None] * pole


def lock_feet(joints: np.ndarray) -> np.ndarray:
    """One person's joints (T, 22, 3) → joints with locked feet and unchanged bone lengths."""
    out = np.array(joints, dtype=np.float64)
    for hip, knee, ankle, toe in LEGS:
        l1 = float(np.median(np.linalg.norm(out[:, knee] - out[:, hip], axis=-1)))
        l2 = float(np.median(np.linalg.norm(out[:, ankle] - out[:, knee], axis=-1)))
        target = ankle_targets(out, ankle, toe)
        # Unreachable targets (the hip moved too far) are pulled toward the hip along the same direction.
        d_vec = target - out[:, hip]
        d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
        target = out[:, hip] + d_vec * np.minimum(1.0, (l1 + l2 - 1e-4) / np.maximum(d, 1e-9))
        new_knee = two_bone_ik(out[:, hip], out[:, knee], target, l1, l2)
        shift = target - out[:, ankle]
        out[:, knee] = new_knee
        out[:, ankle] = target
        out[:, toe] = out[:, toe] + shift
    return out.astype(np.float32)


def foot_cleanup(clip: Interaction) -> Interaction:
    """Both persons with locked feet; leg rotations re-derived so mesh and BVH follow the new joints."""
    from intermask.motion.solver import solve_rotations

    joints = np.stack([lock_feet(clip.joints[p]) for p in range(2)])
    rot6d = np.stack([solve_rotations(joints[p], rot6d_hint=clip.rot6d[p]) for p in range(2)])
    meta = dict(clip.meta, foot_cleanup=True)
    return Interaction(joints=joints, rot6d=rot6d, fps=clip.fps, text=clip.text, features=None, meta=meta)
