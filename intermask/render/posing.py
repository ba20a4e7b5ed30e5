"""Interaction → per-frame joint transforms of a body model, with the mesh's joints on the generated joints.

The 6D rotations are a hint, not the truth: generated rotations need not agree with the generated joints,
bone lengths vary a little, and a body's rest skeleton differs from SMPL's. So, per person:

1. the body is fitted to the person's proportions: each SMPL bone of the body is stretched to the person's
   (median) bone length and the mesh is scaled accordingly, so segments fill their bones without gaps;
2. the root rotation is the Procrustes fit of the body's hips and spine onto the joints (any facing);
3. walking down the tree, each joint's global rotation is parent ⊗ hinted local rotation, then swung by the
   smallest rotation that points the bone at the generated child joint (joints with several children use a
   Procrustes fit), which keeps the hint's twist and makes every bone direction exact;
4. the hinted local rotations are smoothed over time first (quaternions, hemisphere-aligned, Gaussian), so
   the twist about each bone is free of jitter while step 3 keeps bone directions exact; joint positions
   follow the generated pelvis with temporally smoothed bone lengths.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intermask import skeleton as sk
from intermask.render.body import NUM_SMPL_JOINTS, BodyModel, chain_positions


@dataclass
class FittedBody:
    """A body fitted to one person, with that person's motion."""

    body: BodyModel
    vertices: np.ndarray  # (V, 3) float32 rest mesh stretched to the person's proportions
    bind: np.ndarray  # (J, 3) bind joint positions of ``vertices`` (identity rotations)
    offsets: np.ndarray  # (J, 3) the person's rest offsets
    rotations: np.ndarray  # (T, J, 3, 3) global joint rotations
    positions: np.ndarray  # (T, J, 3) world joint positions

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])


def gaussian_smooth(x: np.ndarray, sigma: float, axis: int = 0) -> np.ndarray:
    """Gaussian filter along ``axis`` with edge padding (no shrinking at the ends)."""
    if sigma <= 0 or x.shape[axis] < 2:
        return np.asarray(x, dtype=np.float64)
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    pad = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)], 0)
    out = np.zeros_like(x)
    for i, w in enumerate(k):
        out += w * pad[i:i + x.shape[0]]
    return np.moveaxis(out, 0, axis)


def smooth_rotations(rot: np.ndarray, sigma: float) -> np.ndarray:
    """Temporal smoothing of rotations (T, ..., 3, 3) through hemisphere-aligned quaternions."""
    if sigma <= 0 or rot.shape[0] < 2:
        return rot
    q = sk.matrix_to_quaternion(rot)
    # Make consecutive quaternions lie in the same hemisphere so averaging does not cancel them.
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], axis=-1, keepdims=True) < 0
        q[t] = np.where(flip, -q[t], q[t])
    return sk.quaternion_to_matrix(gaussian_smooth(q, sigma))


def _swing(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Smallest rotation matrices (..., 3, 3) taking directions ``current`` to ``target``."""
    return sk.quaternion_to_matrix(sk.quaternion_between(current, target))


def _person_lengths(joints: np.ndarray, sigma: float) -> np.ndarray:
    """Per-frame lengths (T, 22) of the bone from each joint's parent to it, smoothed over time."""
    par = np.array(sk.PARENTS[1:])
    lengths = np.zeros(joints.shape[:2])
    lengths[:, 1:] = np.linalg.norm(joints[:, 1:] - joints[:, par], axis=-1)
    return gaussian_smooth(lengths, sigma)


def fit_body(body: BodyModel, joints: np.ndarray, rot6d: np.ndarray | None = None,
             smooth: float = 1.0) -> FittedBody:
    """Fit ``body`` to one person: joints (T, 22, 3) world metres, rot6d (T, 21, 6) hint or None.

    smooth: Gaussian sigma in frames for the rotation hint (twice that for bone lengths); 0 disables it.
    """
    joints = np.asarray(joints, dtype=np.float64)
    T = joints.shape[0]
    J = body.num_joints
    parents = body.parents
    children = body.smpl_children()

    # --- proportions -------------------------------------------------------------------------------
    lengths_t = _person_lengths(joints, 2 * smooth)  # (T, 22)
    lengths = np.median(lengths_t, axis=0)
    rest_len = np.linalg.norm(body.offsets[:NUM_SMPL_JOINTS], axis=-1)
    ratio = np.ones(J)
    ratio[1:NUM_SMPL_JOINTS] = lengths[1:] / np.maximum(rest_len[1:], 1e-6)
    scale = float(np.median(ratio[1:NUM_SMPL_JOINTS]))  # overall size: thickness and non-SMPL joints
    ratio[NUM_SMPL_JOINTS:] = scale
    ratio[0] = scale
    offsets = body.offsets * ratio[:, None]
    bind = chain_positions(offsets, parents)
    vertices = _stretch_mesh(body, offsets, bind, scale, children)

    # --- rotations --------------------------------------------------------------------------------
    if rot6d is None:
        local = np.broadcast_to(np.eye(3), (T, NUM_SMPL_JOINTS - 1, 3, 3))
    else:
        # Smoothing the hint, before the per-frame swing corrections, removes twist jitter while every bone
        # still points exactly at its generated child joint.
        local = smooth_rotations(sk.rot6d_to_matrix(np.asarray(rot6d, dtype=np.float64)), smooth)
    glob = np.zeros((T, J, 3, 3))
    root_children = children[0]
    glob[:, 0] = sk.kabsch(offsets[root_children], joints[:, root_children] - joints[:, :1])
    for j in range(1, NUM_SMPL_JOINTS):
        g = glob[:, parents[j]] @ local[:, j - 1]
        kids = children[j]
        if len(kids) == 1:
            c = kids[0]
            current = (g @ offsets[c])  # (T, 3)
            target = joints[:, c] - joints[:, j]
            g = _swing(current, target) @ g
        elif len(kids) > 1:
            g = sk.kabsch(offsets[kids], joints[:, kids] - joints[:, j:j + 1])
        glob[:, j] = g
    for j in range(NUM_SMPL_JOINTS, J):
        glob[:, j] = glob[:, parents[j]] @ body.fixed_local[j]

    # --- positions --------------------------------------------------------------------------------
    stretch = np.ones((T, J))
    stretch[:, 1:NUM_SMPL_JOINTS] = lengths_t[:, 1:] / np.maximum(lengths[1:], 1e-6)
    pos = np.zeros((T, J, 3))
    pos[:, 0] = joints[:, 0]
    for j in range(1, J):
        p = parents[j]
        if j < NUM_SMPL_JOINTS and len(children[p]) > 1:
            # Several children (pelvis, spine3): no single rotation points every bone exactly, so take the
            # generated bone in the parent's frame, smoothed, and let skinning absorb the small difference.
            local_vec = np.einsum("tba,tb->ta", glob[:, p], joints[:, j] - joints[:, p])
            pos[:, j] = pos[:, p] + np.einsum("tab,tb->ta", glob[:, p], gaussian_smooth(local_vec, smooth))
        else:
            pos[:, j] = pos[:, p] + (glob[:, p] @ offsets[j]) * stretch[:, j:j + 1]
    return FittedBody(body=body, vertices=vertices, bind=bind, offsets=offsets,
                      rotations=glob.astype(np.float32), positions=pos.astype(np.float32))


def _stretch_mesh(body: BodyModel, offsets: np.ndarray, bind: np.ndarray, scale: float,
                  children: dict[int, list[int]]) -> np.ndarray:
    """The rest mesh with each segment stretched along its bone to the person's bone length."""
    old_bind = body.bind_positions()
    J = body.num_joints
    S = np.broadcast_to(np.eye(3) * scale, (J, 3, 3)).copy()
    for j, kids in children.items():
        if len(kids) != 1:
            continue
        c = kids[0]
        u = body.offsets[c] / max(np.linalg.norm(body.offsets[c]), 1e-9)
        k = np.linalg.norm(offsets[c]) / max(np.linalg.norm(body.offsets[c]), 1e-9)
        S[j] = scale * (np.eye(3) - np.outer(u, u)) + k * np.outer(u, u)
    # A_j maps a rest vertex bound to joint j into the stretched rest pose.
    lin = S  # (J, 3, 3)
    trans = bind - np.einsum("jab,jb->ja", S, old_bind)
    idx, w = body.skin_indices, body.skin_weights.astype(np.float64)
    v = body.vertices.astype(np.float64)
    out = np.einsum("vk,vkab,vb->va", w, lin[idx], v) + np.einsum("vk,vka->va", w, trans[idx])
    return out.astype(np.float32)


def rest_pose_joints(body: BodyModel) -> np.ndarray:
    """The body's 22 SMPL joints in its rest pose (T-pose), feet near y = 0 (used by tests and examples)."""
    pos = body.bind_positions()[:NUM_SMPL_JOINTS]
    return pos - np.array([0.0, pos[:, 1].min(), 0.0])
