"""The 22-joint SMPL body skeleton, forward kinematics and rotation maths.

Conventions used throughout the project:
- Y-up, metres, a body in the SMPL rest pose (T-pose) faces +Z and its left side is +X.
- Rotation matrices act on column vectors: ``v_world = R @ v_local``.
- Quaternions are (w, x, y, z).
- 6D rotations use the InterHuman layout [R00, R01, R10, R11, R20, R21]: the first two *columns* of R,
  flattened row by row (docs/design-notes.md, "Motion features"). The official helper reads the six numbers as
  two columns [R00, R10, R20], [R01, R11, R21]; that is the HumanML3D layout and is wrong for this data.

All functions are numpy, batched over leading dimensions. ``rot6d_to_matrix_torch`` and
``matrix_to_rot6d_torch`` are the torch twins used by losses and rendering.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)
NUM_JOINTS = 22
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# The five chains of the official plots and bone-length loss: 21 bones in all.
KINEMATIC_CHAINS = (
    (0, 2, 5, 8, 11),  # right leg
    (0, 1, 4, 7, 10),  # left leg
    (0, 3, 6, 9, 12, 15),  # spine to head
    (9, 14, 17, 19, 21),  # right arm
    (9, 13, 16, 18, 20),  # left arm
)
BONES = tuple((c[i], c[i + 1]) for c in KINEMATIC_CHAINS for i in range(len(c) - 1))

LEFT_CHAIN = (1, 4, 7, 10, 13, 16, 18, 20)
RIGHT_CHAIN = (2, 5, 8, 11, 14, 17, 19, 21)
# Permutation that exchanges left and right joints (its own inverse).
MIRROR_PERMUTATION = tuple(
    RIGHT_CHAIN[LEFT_CHAIN.index(j)] if j in LEFT_CHAIN
    else LEFT_CHAIN[RIGHT_CHAIN.index(j)] if j in RIGHT_CHAIN else j
    for j in range(NUM_JOINTS)
)

WRISTS = (JOINT_NAMES.index("left_wrist"), JOINT_NAMES.index("right_wrist"))
FOOT_LEFT = (7, 10)  # ankle, toe
FOOT_RIGHT = (8, 11)
FOOT_HEIGHT_THRESHOLDS = (0.12, 0.05)  # ankle, toe: the InterHuman contact heights (metres)
FOOT_VELOCITY_THRESHOLD = 0.001  # squared displacement per frame

# SMPL neutral rest offsets of each joint from its parent (metres, Y-up, facing +Z); the root entry is the
# pelvis position in the SMPL model frame. Values are those of the official BVH template,
# reordered to SMPL joint order.
REST_OFFSETS = np.array([
    [-0.001795, -0.223333, 0.028219],  # pelvis
    [0.069520, -0.091406, -0.006815],  # left_hip
    [-0.067670, -0.090522, -0.004320],  # right_hip
    [-0.002533, 0.108963, -0.026696],  # spine1
    [0.034277, -0.375199, -0.004496],  # left_knee
    [-0.038290, -0.382569, -0.008850],  # right_knee
    [0.005487, 0.135180, 0.001092],  # spine2
    [-0.013596, -0.397961, -0.043693],  # left_ankle
    [0.015774, -0.398415, -0.042312],  # right_ankle
    [0.001457, 0.052922, 0.025425],  # spine3
    [0.026358, -0.055791, 0.119288],  # left_foot
    [-0.025372, -0.048144, 0.123348],  # right_foot
    [-0.002778, 0.213870, -0.042857],  # neck
    [0.078845, 0.121749, -0.034090],  # left_collar
    [-0.081759, 0.118833, -0.038615],  # right_collar
    [0.005152, 0.064970, 0.051349],  # head
    [0.090977, 0.030469, -0.008868],  # left_shoulder
    [-0.096012, 0.032551, -0.009143],  # right_shoulder
    [0.259612, -0.012772, -0.027456],  # left_elbow
    [-0.253742, -0.013329, -0.021401],  # right_elbow
    [0.249234, 0.008986, -0.001171],  # left_wrist
    [-0.255298, 0.007772, -0.005559],  # right_wrist
], dtype=np.float64)


def rest_joints(offsets: np.ndarray = REST_OFFSETS) -> np.ndarray:
    """Rest-pose (T-pose) joint positions relative to the pelvis, (22, 3)."""
    out = np.zeros((NUM_JOINTS, 3))
    for j in range(1, NUM_JOINTS):
        out[j] = out[PARENTS[j]] + offsets[j]
    return out


def rest_height(offsets: np.ndarray = REST_OFFSETS) -> float:
    """Approximate stature of a skeleton: head joint to the lowest foot joint, plus ~10 cm of skull."""
    j = rest_joints(offsets)
    return float(j[15, 1] - j[[10, 11], 1].min() + 0.10)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Lengths of the 21 chain bones, (..., 21)."""
    joints = np.asarray(joints)
    a = joints[..., [b[0] for b in BONES], :]
    b = joints[..., [b[1] for b in BONES], :]
    return np.linalg.norm(b - a, axis=-1)


# ----------------------------------------------------------------------------------------------------
# Rotations
# ----------------------------------------------------------------------------------------------------

def _normalize(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) axis * angle (radians) → (..., 3, 3)."""
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.maximum(theta, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    s = np.sin(theta)[..., None]
    c = np.cos(theta)[..., None]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + s * k + (1 - c) * (k @ k)


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 4) unit quaternion (w, x, y, z) with w ≥ 0, via the numerically best branch."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    s21, s02, s10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    a01, a02, a12 = m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1]
    # Four unnormalised candidates, each proportional to q; the one with the largest pivot is stable.
    cands = np.stack([
        np.stack([1 + m00 + m11 + m22, s21, s02, s10], -1),
        np.stack([s21, 1 + m00 - m11 - m22, a01, a02], -1),
        np.stack([s02, a01, 1 - m00 + m11 - m22, a12], -1),
        np.stack([s10, a02, a12, 1 - m00 - m11 + m22], -1),
    ], -2)
    pivots = np.stack([cands[..., i, i] for i in range(4)], -1)
    best = np.argmax(pivots, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = _normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    q = _normalize(np.asarray(q, dtype=np.float64))
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(q.shape[:-1] + (3, 3))


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    q = _normalize(np.asarray(q, dtype=np.float64))
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(sin_half, q[..., :1])
    return q[..., 1:] / np.maximum(sin_half, 1e-12) * angle


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    return quaternion_to_axis_angle(matrix_to_quaternion(m))


def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    return matrix_to_quaternion(axis_angle_to_matrix(aa))


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quaternion_inverse(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quaternion_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors (..., 3) by quaternions (..., 4); broadcasting over leading dims."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = q[..., 1:]
    w = q[..., :1]
    t = 2 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def quaternion_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation taking direction a to direction b, (..., 4)."""
    a = _normalize(np.asarray(a, dtype=np.float64))
    b = _normalize(np.asarray(b, dtype=np.float64))
    w = 1 + np.sum(a * b, axis=-1, keepdims=True)
    xyz = np.cross(a, b)
    # Opposite directions: any perpendicular axis works; pick one orthogonal to a.
    opposite = w[..., 0] < 1e-9
    if np.any(opposite):
        perp = np.cross(a, np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(perp, axis=-1, keepdims=True) < 1e-6
        perp = np.where(small, np.cross(a, np.array([0.0, 1.0, 0.0])), perp)
        xyz = np.where(opposite[..., None], _normalize(perp), xyz)
        w = np.where(opposite[..., None], 0.0, w)
    return _normalize(np.concatenate([w, xyz], axis=-1))


def matrix_to_rot6d(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 6) in the InterHuman layout [R00, R01, R10, R11, R20, R21]."""
    m = np.asarray(m)
    return m[..., :, :2].reshape(m.shape[:-2] + (6,))


def rot6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """(..., 6) InterHuman layout → (..., 3, 3), re-orthonormalised by Gram–Schmidt."""
    d6 = np.asarray(d6, dtype=np.float64)
    cols = d6.reshape(d6.shape[:-1] + (3, 2))
    a1 = _normalize(cols[..., 0])
    a2 = cols[..., 1] - np.sum(a1 * cols[..., 1], axis=-1, keepdims=True) * a1
    a2 = _normalize(a2)
    a3 = np.cross(a1, a2)
    return np.stack([a1, a2, a3], axis=-1)


def rot6d_to_matrix_torch(d6):
    """Torch twin of :func:`rot6d_to_matrix` (differentiable)."""
    import torch
    import torch.nn.functional as F

    cols = d6.reshape(*d6.shape[:-1], 3, 2)
    a1 = F.normalize(cols[..., 0], dim=-1, eps=1e-8)
    a2 = cols[..., 1] - (a1 * cols[..., 1]).sum(-1, keepdim=True) * a1
    a2 = F.normalize(a2, dim=-1, eps=1e-8)
    a3 = torch.cross(a1, a2, dim=-1)
    return torch.stack([a1, a2, a3], dim=-1)


def matrix_to_rot6d_torch(m):
    return m[..., :, :2].reshape(*m.shape[:-2], 6)


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles in radians, applied in ``order`` (e.g. "ZYX" → Rz @ Ry @ Rx), as in BVH."""
    angles = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, axis in enumerate(order.upper()):
        vec = np.zeros(angles.shape[:-1] + (3,))
        vec[..., "XYZ".index(axis)] = angles[..., i]
        out = out @ axis_angle_to_matrix(vec)
    return out


def matrix_to_euler(m: np.ndarray, order: str) -> np.ndarray:
    """Inverse of :func:`euler_to_matrix` for the six Tait–Bryan orders; radians, gimbal-lock safe."""
    order = order.upper()
    m = np.asarray(m, dtype=np.float64)
    i, j, k = ("XYZ".index(c) for c in order)
    # For R = Ri(a) Rj(b) Rk(c): sign of the permutation decides the signs below.
    parity = 1.0 if (j - i) % 3 == 1 else -1.0
    sb = np.clip(parity * m[..., i, k], -1.0, 1.0)
    b = np.arcsin(sb)
    cb = np.sqrt(np.maximum(1 - sb * sb, 0.0))
    locked = cb < 1e-7
    a = np.arctan2(-parity * m[..., j, k], m[..., k, k])
    c = np.arctan2(-parity * m[..., i, j], m[..., i, i])
    # Gimbal lock: put all of the remaining rotation into the first angle.
    a_locked = np.arctan2(parity * m[..., k, j], m[..., j, j])
    a = np.where(locked, a_locked, a)
    c = np.where(locked, 0.0, c)
    return np.stack([a, b, c], axis=-1)


def y_rotation(angle: np.ndarray) -> np.ndarray:
    """Rotation about the vertical axis, (..., 3, 3)."""
    angle = np.asarray(angle, dtype=np.float64)
    return axis_angle_to_matrix(np.stack([np.zeros_like(angle), angle, np.zeros_like(angle)], -1))


# ----------------------------------------------------------------------------------------------------
# Forward kinematics
# ----------------------------------------------------------------------------------------------------

def forward_kinematics(local_rot: np.ndarray, root_pos: np.ndarray,
                       offsets: np.ndarray = REST_OFFSETS) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions and global rotations from local rotations.

    local_rot: (..., 22, 3, 3), entry 0 is the root's global orientation, entry j>0 the rotation of joint j
    relative to its parent (SMPL convention: about the joint, relative to the rest T-pose).
    root_pos: (..., 3) world position of the pelvis. offsets: (22, 3) or (..., 22, 3).
    Returns joints (..., 22, 3) and global rotations (..., 22, 3, 3).
    """
    local_rot = np.asarray(local_rot, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    glob = [local_rot[..., 0, :, :]]
    pos = [np.asarray(root_pos, dtype=np.float64)]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        pos.append(pos[p] + (glob[p] @ offsets[..., j, :, None])[..., 0])
        glob.append(glob[p] @ local_rot[..., j, :, :])
    return np.stack(pos, axis=-2), np.stack(glob, axis=-3)


def global_to_local(glob: np.ndarray) -> np.ndarray:
    """Global rotations (..., 22, 3, 3) → local ones, root kept global."""
    glob = np.asarray(glob, dtype=np.float64)
    local = glob.copy()
    par = np.array(PARENTS[1:])
    local[..., 1:, :, :] = np.swapaxes(glob[..., par, :, :], -1, -2) @ glob[..., 1:, :, :]
    return local


def root_orientation_from_joints(joints: np.ndarray) -> np.ndarray:
    """Global pelvis rotation (..., 3, 3) that best maps the rest hips and spine onto the posed ones.

    Solves the orthogonal Procrustes problem on the three pelvis children, so it works for any facing
    (including a person who faces away from the camera) and for joints that are not exactly rigid.
    """
    joints = np.asarray(joints, dtype=np.float64)
    rest = REST_OFFSETS[[1, 2, 3]]
    posed = joints[..., [1, 2, 3], :] - joints[..., :1, :]
    return kabsch(rest, posed)


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotation R (..., 3, 3) minimising Σ‖R src_i − dst_i‖² (src (N, 3) or (..., N, 3); dst (..., N, 3))."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    h = np.swapaxes(src, -1, -2) @ dst if src.ndim == dst.ndim else src.T @ dst
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.ones(h.shape[:-2] + (3,))
    fix[..., 2] = d
    return np.swapaxes(vt, -1, -2) @ (fix[..., :, None] * np.swapaxes(u, -1, -2))
