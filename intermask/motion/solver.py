"""The joints → local-rotations solver shared by BVH export, partner loading and foot cleanup.

Given joint positions (and optionally the model's 6D rotations as a twist hint), find SMPL local rotations whose
forward kinematics on a rest skeleton (SMPL bone directions at the person's bone lengths) reproduce the joints:
the pelvis orientation by Procrustes over hips and spine (works for any facing), then per bone the minimal swing
from the hinted frame onto the actual child direction. Exact for rigid skeletons.
"""
from __future__ import annotations

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError

_CHILDREN = tuple(tuple(c for c in range(sk.NUM_JOINTS) if sk.PARENTS[c] == j) for j in range(sk.NUM_JOINTS))


def measure_offsets(joints: np.ndarray, robust: bool = False) -> np.ndarray:
    """SMPL rest bone directions scaled to the measured bone lengths, (22, 3); entry 0 is zero.

    The lengths are means over frames, or medians with ``robust`` (model output has outlier frames).
    """
    joints = np.asarray(joints, dtype=np.float64)
    par = list(sk.PARENTS[1:])
    length = np.linalg.norm(joints[:, 1:] - joints[:, par], axis=-1)
    lengths = np.median(length, axis=0) if robust else length.mean(0)
    rest = sk.REST_OFFSETS[1:]
    out = np.zeros((sk.NUM_JOINTS, 3))
    out[1:] = rest / np.linalg.norm(rest, axis=-1, keepdims=True) * lengths[:, None]
    return out


def _swing(frame: np.ndarray, rest_dir: np.ndarray, target: np.ndarray) -> np.ndarray:
    """frame (T,3,3) turned by the smallest rotation that takes frame·rest_dir onto target (T,3)."""
    q = sk.quaternion_between(frame @ rest_dir, target)
    return sk.quaternion_to_matrix(q) @ frame


def _solve_once(joints: np.ndarray, hint: np.ndarray | None, offsets: np.ndarray) -> np.ndarray:
    t = joints.shape[0]
    glob = np.zeros((t, sk.NUM_JOINTS, 3, 3))
    # Bones aim from the *reconstructed* parent at the measured child, so that on a non-rigid input (model
    # output) errors do not pile up along the chains; on a rigid input both are the same.
    recon = np.zeros_like(joints)
    recon[:, 0] = joints[:, 0]
    for j in range(sk.NUM_JOINTS):
        kids = list(_CHILDREN[j])
        p = sk.PARENTS[j]
        if p < 0:
            start = np.broadcast_to(np.eye(3), (t, 3, 3))
        else:
            start = glob[:, p] @ hint[:, j - 1] if hint is not None else glob[:, p]
        if len(kids) > 1:
            # Several children (pelvis, spine3): the best rigid fit of all child bones fixes the twist too.
            glob[:, j] = sk.kabsch(offsets[kids], joints[:, kids] - recon[:, j:j + 1])
        elif len(kids) == 1:
            glob[:, j] = _swing(start, offsets[kids[0]], joints[:, kids[0]] - recon[:, j])
        else:
            glob[:, j] = start
        for c in kids:
            recon[:, c] = recon[:, j] + (glob[:, j] @ offsets[c][:, None])[..., 0]
    return glob


def solve_rotations(joints: np.ndarray, rot6d_hint: np.ndarray | None = None,
                    offsets: np.ndarray | None = None) -> np.ndarray:
    """Local 6D rotations (T, 21, 6) float32 of joints 1..21 that reproduce ``joints``; see :func:`solve_skeleton`."""
    local, _ = solve_skeleton(joints, rot6d_hint, offsets)
    return sk.matrix_to_rot6d(local[:, 1:]).astype(np.float32)


def solve_skeleton(joints: np.ndarray, rot6d_hint: np.ndarray | None = None,
                   offsets: np.ndarray | None = None, robust: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations that reproduce joint positions on a fixed skeleton.

    joints (T, 22, 3) Y-up; rot6d_hint (T, 21, 6) optional local rotations whose twist is kept (each joint
    starts from its hint and takes the minimal swing that points its bone at the measured child); offsets
    (22, 3) optional rest offsets (default: SMPL rest directions at the measured mean bone lengths, with the
    hip/spine and neck/collar offsets refitted in their parent's frame so a rigid body is reproduced exactly;
    with ``robust`` every measured length and refitted offset is a median over frames instead of a mean).
    Returns local rotation matrices (T, 22, 3, 3) — entry 0 is the root's global orientation — and the
    offsets used. Exact (to float precision) for a rigid skeleton; any facing works.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (sk.NUM_JOINTS, 3) or joints.shape[0] < 1:
        raise InterMaskError(f"Joints must have shape (T, 22, 3); got {joints.shape}.")
    if not np.isfinite(joints).all():
        raise InterMaskError("Joint positions contain NaN or Inf values.")
    hint = None
    if rot6d_hint is not None:
        rot6d_hint = np.asarray(rot6d_hint, dtype=np.float64)
        if rot6d_hint.shape != (joints.shape[0], 21, 6):
            raise InterMaskError(f"Rotations must have shape ({joints.shape[0]}, 21, 6); got {rot6d_hint.shape}.")
        hint = sk.rot6d_to_matrix(rot6d_hint)
    if offsets is None:
        offsets = measure_offsets(joints, robust)
        stat = np.median if robust else np.mean
        # Refit pelvis children, then (with an exact chain up to spine3) the neck and collars.
        for parent in (0, 9):
            glob = _solve_once(joints, hint, offsets)
            for c in _CHILDREN[parent]:
                rel = joints[:, c] - joints[:, parent]
                offsets[c] = stat((np.swapaxes(glob[:, parent], -1, -2) @ rel[..., None])[..., 0], axis=0)
    else:
        offsets = np.asarray(offsets, dtype=np.float64)
    glob = _solve_once(joints, hint, offsets)
    return sk.global_to_local(glob), offsets
