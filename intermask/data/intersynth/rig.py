"""Turn a :class:`Track` and its planned feet into local joint rotations and FK joint positions.

Order: root and trunk rotations → trunk FK → lower the pelvis where a stance foot could not be reached →
leg and arm IK (global bone rotations) → local rotations → one final forward kinematics, so positions,
rotations and foot contacts of the written motion come from the same skeleton and agree exactly.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from intermask import skeleton as sk
from intermask.data.intersynth.body import Body, forward, leftward
from intermask.data.intersynth.gait import Feet
from intermask.data.intersynth.ik import aim, two_bone
from intermask.data.intersynth.track import LEFT, RIGHT, Track

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
_Z = np.array([0.0, 0.0, 1.0])
ARM_REST_HINGE = (-_Y, _Y)  # elbow flexion axes of the T-pose arms (left, right)
SPINE = ((3, 0.35), (6, 0.35), (9, 0.30))
RUN_HAND = np.array([0.18, -0.55, 0.40])
RUN_POLE = np.array([0.2, -0.6, -1.0])


def _rot(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return sk.axis_angle_to_matrix(np.asarray(angle, dtype=np.float64)[..., None] * axis)


def _t(m: np.ndarray) -> np.ndarray:
    return np.swapaxes(m, -1, -2)


def solve(body: Body, tr: Track, feet: Feet) -> tuple[np.ndarray, np.ndarray]:
    """Joints (n, 22, 3) and local rotations (n, 22, 3, 3) of one person."""
    n = tr.n
    off = body.offsets
    local = np.broadcast_to(np.eye(3), (n, 22, 3, 3)).copy()

    run = feet.running
    yaw = tr.heading + feet.pelvis_yaw
    local[:, 0] = _rot(_Y, yaw) @ _rot(_X, 0.05 * run)
    flex = tr.lean[:, 0] + 0.12 * run
    twist = tr.lean[:, 2] - 0.85 * feet.pelvis_yaw  # shoulders counter-rotate against the pelvis
    for j, share in SPINE:
        local[:, j] = _rot(_Y, share * twist) @ _rot(_X, share * flex) @ _rot(_Z, -share * tr.lean[:, 1])
    chest_yaw = tr.heading + tr.lean[:, 2]

    root = np.zeros((n, 3))
    root[:, [0, 2]] = tr.xz + feet.sway
    root[:, 1] = 0.985 * body.pelvis_height + feet.bob + tr.pelvis_dy

    # Head: its own pitch/yaw plus a turn toward a look-at point, limited to what a neck can do.
    head_pitch, head_yaw = tr.head[:, 0].copy(), tr.head[:, 1].copy()
    if np.any(tr.look_w > 0):
        d = tr.look_at - root
        want = np.arctan2(d[:, 0], d[:, 2]) - chest_yaw
        want = (want + np.pi) % (2 * np.pi) - np.pi
        head_yaw += tr.look_w * np.clip(want, -1.1, 1.1)
    local[:, 12] = _rot(_Y, 0.4 * head_yaw) @ _rot(_X, 0.4 * head_pitch)
    local[:, 15] = _rot(_Y, 0.6 * head_yaw) @ _rot(_X, 0.6 * head_pitch)

    joints, glob = sk.forward_kinematics(local, root, off)

    # Feet targets.
    ankle = feet.ankle.copy()
    ankle[..., 1] += tr.feet_dy[:, None]
    w = tr.foot_w[..., None]
    ankle = ankle + w * (tr.foot_world - ankle)
    foot_rot = _rot(_Y, feet.yaw) @ _rot(_X, feet.pitch + tr.foot_pitch)

    # Lower the whole body where a leg cannot reach its foot (long steps, wide stances).
    drop = np.zeros(n)
    for f, hip, knee, ank in ((LEFT, 1, 4, 7), (RIGHT, 2, 5, 8)):
        reach = 0.995 * (np.linalg.norm(off[knee]) + np.linalg.norm(off[ank]))
        h = joints[:, hip]
        horiz2 = (h[:, 0] - ankle[:, f, 0]) ** 2 + (h[:, 2] - ankle[:, f, 2]) ** 2
        need = h[:, 1] - ankle[:, f, 1] - np.sqrt(np.maximum(reach ** 2 - horiz2, 0.0))
        drop = np.maximum(drop, need)
    if np.any(drop > 0):
        drop = uniform_filter1d(maximum_filter1d(drop, 9, mode="nearest"), 7, mode="nearest")
        root[:, 1] -= drop
        joints[..., 1] -= drop[:, None]

    for f, hip, knee, ank in ((LEFT, 1, 4, 7), (RIGHT, 2, 5, 8)):
        out = leftward(feet.yaw[:, f]) * (1.0 if f == LEFT else -1.0)
        pole = forward(feet.yaw[:, f]) + 0.1 * out
        h = joints[:, hip]
        k, a, hinge = two_bone(h, ankle[:, f], pole, np.linalg.norm(off[knee]), np.linalg.norm(off[ank]),
                               max_flex=np.deg2rad(140))
        g_thigh = aim(off[knee], _X, k - h, hinge)
        g_shin = aim(off[ank], _X, a - k, hinge)
        local[:, hip] = _t(glob[:, 0]) @ g_thigh
        local[:, knee] = _t(g_thigh) @ g_shin
        local[:, ank] = _t(g_shin) @ foot_rot[:, f]

    # Arms: body-frame targets (swing with the opposite leg while walking) blended with world targets.
    la = body.arm_length
    for f, sh, el, wr in ((LEFT, 16, 18, 20), (RIGHT, 17, 19, 21)):
        sign = 1.0 if f == LEFT else -1.0
        o = sign * leftward(chest_yaw)
        fw = forward(chest_yaw)
        rel = tr.hand_rel[:, f].copy()
        pole_rel = tr.pole_rel[:, f].copy()
        rel += run[:, None] * (RUN_HAND - rel)
        pole_rel += run[:, None] * (RUN_POLE - pole_rel)
        gain = tr.arm_swing * (0.35 + 0.5 * run)
        rel[:, 2] += -gain * feet.foot_fwd[:, f] / la
        s = joints[:, sh]
        target = s + la * (rel[:, :1] * o + rel[:, 1:2] * _Y + rel[:, 2:3] * fw)
        hw = tr.hand_w[:, f, None]
        target = target + hw * (tr.hand_world[:, f] - target)
        pole = pole_rel[:, :1] * o + pole_rel[:, 1:2] * _Y + pole_rel[:, 2:3] * fw
        e, wpos, hinge = two_bone(s, target, pole, np.linalg.norm(off[el]), np.linalg.norm(off[wr]),
                                  max_flex=np.deg2rad(145))
        g_up = aim(off[el], ARM_REST_HINGE[f], e - s, hinge)
        g_fore = aim(off[wr], ARM_REST_HINGE[f], wpos - e, hinge)
        local[:, sh] = _t(glob[:, sh - 3]) @ g_up
        local[:, el] = _t(g_up) @ g_fore
        local[:, wr] = _rot(ARM_REST_HINGE[f], tr.wrist_flex[:, f])

    joints, _ = sk.forward_kinematics(local, root, off)
    return joints, local
