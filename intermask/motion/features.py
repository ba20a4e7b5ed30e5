"""The InterHuman raw layout and the 262-d per-person feature.

Raw InterHuman person file: (T, 492) float, Z-up: 62 joint positions (186 columns; the 22 body joints first)
then 51 local 6D rotations (306 columns; body joints 1..21 first, then 30 hand joints).

Feature, per frame (T−1 frames from T raw frames):
``[positions 22×3 | velocities 22×3 | rot6d 21×6 | contacts left ankle, left toe, right ankle, right toe]``
in the person's canonical frame: Y-up, floor at y = 0, root at the x/z origin at frame 0, facing +Z.
"""
from __future__ import annotations

import numpy as np

from intermask import skeleton as sk

FPS = 30  # frames per second of every motion the models read or write (uploads are resampled to it)
RAW_DIM = 492
RAW_JOINTS = 62
FEATURE_DIM = 262
POS = slice(0, 66)
VEL = slice(66, 132)
ROT = slice(132, 258)
CONTACT = slice(258, 262)


def rotation_slots(joints) -> list[int]:
    """Where the named joints' rotations sit among the feature's 21: it holds joints 1..21 (the pelvis has none)."""
    return [sk.JOINT_NAMES.index(j) - 1 for j in joints]


def rotation_columns(joints) -> list[int]:
    """The feature columns of the named joints' 6D rotations."""
    return [ROT.start + 6 * slot + k for slot in rotation_slots(joints) for k in range(6)]


# (x, y, z)_Y-up = Z_TO_Y @ (x, y, z)_Z-up ; the first step of canonicalisation.
Z_TO_Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
HAND_PARENT_WRIST = {"left": 20, "right": 21}


def split_raw(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, ≥312) raw → body positions (T, 22, 3) Z-up and body rotations (T, 21, 6)."""
    raw = np.asarray(raw, dtype=np.float32)
    pos = raw[:, : 22 * 3].reshape(-1, 22, 3)
    rot = raw[:, RAW_JOINTS * 3: RAW_JOINTS * 3 + 21 * 6].reshape(-1, 21, 6)
    return pos, rot


def make_raw(joints_yup: np.ndarray, rot6d: np.ndarray) -> np.ndarray:
    """Write one person in the raw (T, 492) Z-up layout from Y-up joints and body rotations.

    The 40 hand joints are placed at their wrist and given identity rotations: InterMask never reads them,
    but the file keeps the real layout so that tools written for InterHuman read ours.
    """
    joints_yup = np.asarray(joints_yup, dtype=np.float64)
    t = joints_yup.shape[0]
    zup = joints_yup @ Z_TO_Y  # row vectors: p_zup = Z_TO_Y^T p_yup, and Z_TO_Y is orthogonal
    pos = np.zeros((t, RAW_JOINTS, 3))
    pos[:, :22] = zup
    pos[:, 22:42] = zup[:, None, 20]
    pos[:, 42:62] = zup[:, None, 21]
    rot = np.tile(sk.matrix_to_rot6d(np.eye(3)), (t, 51, 1))
    rot[:, :21] = rot6d
    return np.concatenate([pos.reshape(t, -1), rot.reshape(t, -1)], axis=1).astype(np.float32)


def foot_contacts(positions: np.ndarray, vel_threshold: float = sk.FOOT_VELOCITY_THRESHOLD) -> np.ndarray:
    """Contacts (T−1, 4) for [left ankle, left toe, right ankle, right toe] from Y-up positions (T, 22, 3)."""
    feet = list(sk.FOOT_LEFT) + list(sk.FOOT_RIGHT)
    heights = np.array(sk.FOOT_HEIGHT_THRESHOLDS * 2)
    disp = positions[1:, feet] - positions[:-1, feet]
    slow = (disp ** 2).sum(-1) < vel_threshold
    low = positions[:-1, feet, 1] < heights
    return (slow & low).astype(np.float32)


def canonicalize(positions_zup: np.ndarray, rot6d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's raw motion → features (T−1, 262), the facing quaternion and the frame-0 root x/z.

    Canonicalisation: Z-up → Y-up, floor to y = 0, frame-0 root to the x/z origin, frame-0 facing (from the
    hips) turned to +Z; then positions, velocities, rotations and foot contacts are read off. Rotations are
    parent-relative and the root rotation is not stored, so the canonical transform leaves them unchanged.
    """
    pos = np.asarray(positions_zup, dtype=np.float64) @ Z_TO_Y.T
    pos[..., 1] -= pos[..., 1].min()
    root_init = pos[0, 0] * np.array([1.0, 0.0, 1.0])
    pos = pos - root_init
    across = pos[0, 2] - pos[0, 1]
    across = across / max(np.linalg.norm(across), 1e-9)
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    forward = forward / max(np.linalg.norm(forward), 1e-9)
    q = sk.quaternion_between(forward, np.array([0.0, 0.0, 1.0]))
    pos = sk.quaternion_rotate(q, pos)
    vel = pos[1:] - pos[:-1]
    contacts = foot_contacts(pos)
    t = pos.shape[0] - 1
    feat = np.concatenate([
        pos[:-1].reshape(t, -1), vel.reshape(t, -1), np.asarray(rot6d)[:-1].reshape(t, -1), contacts,
    ], axis=1)
    return feat.astype(np.float32), q, root_init


def rigid_transform_features(feat: np.ndarray, angle: float, xz: np.ndarray) -> np.ndarray:
    """Rotate positions and velocities about y by the inverse of half-angle ``angle``, then shift x/z."""
    q = np.array([np.cos(angle), 0.0, np.sin(angle), 0.0])
    qinv = sk.quaternion_inverse(q)
    out = np.array(feat, dtype=np.float64)
    t = out.shape[0]
    pos = sk.quaternion_rotate(qinv, out[:, POS].reshape(t, 22, 3))
    vel = sk.quaternion_rotate(qinv, out[:, VEL].reshape(t, 22, 3))
    pos[..., 0] += xz[0]
    pos[..., 2] += xz[2]
    out[:, POS] = pos.reshape(t, -1)
    out[:, VEL] = vel.reshape(t, -1)
    return out.astype(np.float32)


def pair_features(raw1: np.ndarray, raw2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two persons' raw motions → their features, both in person 1's canonical frame."""
    f1, q1, r1 = canonicalize(*split_raw(raw1))
    f2, q2, r2 = canonicalize(*split_raw(raw2))
    r_rel = sk.quaternion_multiply(q2, sk.quaternion_inverse(q1))
    angle = np.arctan2(r_rel[2], r_rel[0])
    xz = sk.quaternion_rotate(q1, r2 - r1) * np.array([1.0, 0.0, 1.0])
    return f1, rigid_transform_features(f2, angle, xz)


def features_to_joints(feat: np.ndarray) -> np.ndarray:
    """De-normalised features (..., T, 262) → joint positions (..., T, 22, 3)."""
    feat = np.asarray(feat)
    return feat[..., POS].reshape(feat.shape[:-1] + (22, 3))


def fuse_velocities(feat: np.ndarray, weight: float) -> np.ndarray:
    """De-normalised features (..., T, 262) → the same features with positions that fit the position and the
    velocity channels together, and velocities rewritten as those positions' frame differences.

    A decoder predicts every frame's positions on their own, so they jitter by the few centimetres of its error
    (a planted foot slides, jerk doubles); the velocity channel it also predicts is smoother but unused by
    :func:`features_to_joints`. The positions P minimise ``Σ|P_t − p_t|² + weight · Σ|P_{t+1} − P_t − v_t|²``
    (p, v: the predicted channels), a tridiagonal system per clip; ``weight`` 0 returns the input unchanged.
    """
    from scipy.linalg import solve_banded

    if weight <= 0 or np.shape(feat)[-2] < 2:
        return feat
    x = np.array(feat, copy=True)
    t = x.shape[-2]
    lead = x.shape[:-2]
    pos = np.moveaxis(x[..., POS], -2, 0).reshape(t, -1).astype(np.float64)  # (T, everything else)
    vel = np.moveaxis(x[..., VEL], -2, 0).reshape(t, -1)[:-1].astype(np.float64)  # v_t ≈ P_{t+1} − P_t
    rhs = pos.copy()
    rhs[1:] += weight * vel
    rhs[:-1] -= weight * vel
    bands = np.zeros((3, t))
    bands[0, 1:] = bands[2, :-1] = -weight
    bands[1] = 1 + 2 * weight
    bands[1, [0, -1]] = 1 + weight
    fused = solve_banded((1, 1), bands, rhs)
    fused = np.moveaxis(fused.reshape((t,) + lead + (66,)), 0, -2)
    x[..., POS] = fused
    x[..., :-1, VEL] = fused[..., 1:, :] - fused[..., :-1, :]  # the last frame's velocity has no next frame
    return x


def features_to_rot6d(feat: np.ndarray) -> np.ndarray:
    """De-normalised features (..., T, 262) → local 6D rotations of joints 1..21, (..., T, 21, 6)."""
    feat = np.asarray(feat)
    return feat[..., ROT].reshape(feat.shape[:-1] + (21, 6))


def features_from_joints(joints: np.ndarray, rot6d: np.ndarray) -> np.ndarray:
    """Y-up joints (T, 22, 3) already in a shared world frame + rotations → features (T−1, 262).

    Unlike :func:`canonicalize` this keeps the world frame (no floor, origin or facing change), which is what
    reaction generation needs for an uploaded partner that is already placed in the scene.
    """
    pos = np.asarray(joints, dtype=np.float64)
    t = pos.shape[0] - 1
    return np.concatenate([
        pos[:-1].reshape(t, -1), (pos[1:] - pos[:-1]).reshape(t, -1),
        np.asarray(rot6d)[:-1].reshape(t, -1), foot_contacts(pos),
    ], axis=1).astype(np.float32)
