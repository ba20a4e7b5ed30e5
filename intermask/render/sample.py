"""A small procedural two-person clip (a handshake-like approach) for tests, benchmarks and examples.

Joints come from forward kinematics of the SMPL rest skeleton, so joints and 6D rotations agree exactly.
"""
from __future__ import annotations

import numpy as np

from intermask import skeleton as sk
from intermask.motion.interaction import Interaction


def sample_interaction(frames: int = 90, seed: int = 0, fps: int = 30) -> Interaction:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    joints, rot6d = [], []
    for p, (x0, yaw) in enumerate(((-0.55, np.pi / 2), (0.55, -np.pi / 2))):
        phase = rng.uniform(0, 2 * np.pi)
        aa = np.zeros((frames, 22, 3))
        aa[:, 0, 1] = yaw + 0.15 * np.sin(0.8 * t + phase)  # facing each other, swaying a little
        swing = 0.35 * np.sin(2 * np.pi * 0.9 * t + phase)
        aa[:, 1, 0], aa[:, 2, 0] = -swing, swing  # hips
        aa[:, 4, 0], aa[:, 5, 0] = 0.4 * np.maximum(swing, 0), 0.4 * np.maximum(-swing, 0)  # knees
        aa[:, 16, 2], aa[:, 17, 2] = -1.2, 1.2  # arms down from the T-pose
        reach = np.clip(t / max(t[-1], 1e-6) * 1.5, 0, 1)
        # Right arm reaches forward (towards the partner), elbow bends a little.
        aa[:, 17, 2] = 1.2 * (1 - reach) + 0.2 * reach
        aa[:, 17, 1] = 1.1 * reach
        aa[:, 19, 1] = 0.5 * reach
        aa[:, 3, 0] = 0.1 * reach  # lean in
        aa[:, 15, 0] = 0.15 * np.sin(1.3 * t + phase)  # head nods
        R = sk.axis_angle_to_matrix(aa)
        root = np.stack([x0 * (1 - 0.35 * reach), np.full(frames, 0.95), 0.02 * np.sin(t + phase)], -1)
        j, _ = sk.forward_kinematics(R, root)
        joints.append(j)
        rot6d.append(sk.matrix_to_rot6d(R[:, 1:]))
    joints = np.stack(joints)
    joints[..., 1] -= joints[..., 1].min()
    return Interaction(joints=joints, rot6d=np.stack(rot6d), fps=fps, text="two people approach and shake hands")
