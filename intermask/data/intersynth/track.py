"""Per-person, per-frame controls that a scene writes and :mod:`rig` turns into a posed skeleton.

Hands and elbow poles are given in a side-symmetric body frame (out, up, forward): ``out`` is +left for
the left hand and +right for the right hand, so one value describes a gesture for either side. Index 0 of a
hand/foot axis is the left limb, 1 the right one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LEFT, RIGHT = 0, 1
# Relaxed standing arm, as a fraction of arm length from the shoulder: hanging with the elbow slightly bent.
RELAXED_HAND = np.array([0.10, -0.93, 0.07])
RELAXED_POLE = np.array([0.35, -0.2, -1.0])


@dataclass
class Locomotion:
    """A stretch of the root path that is walked (steps are planned on it); the feet stay planted elsewhere."""
    start: int
    end: int
    style: str = "walk"  # walk | run | shuffle
    first_foot: int = LEFT


@dataclass
class Track:
    n: int
    xz: np.ndarray = None  # (n, 2) pelvis ground position
    heading: np.ndarray = None  # (n,) radians about +Y; 0 faces +Z
    loco: list[Locomotion] = field(default_factory=list)
    pelvis_dy: np.ndarray = None  # (n,) extra height (jumps > 0, crouch < 0)
    lean: np.ndarray = None  # (n, 3) trunk flexion (+forward), side bend (+left), twist (+left) in radians
    head: np.ndarray = None  # (n, 2) neck/head pitch (+down), yaw (+left)
    look_at: np.ndarray = None  # (n, 3) world point the head turns toward
    look_w: np.ndarray = None  # (n,)
    hand_rel: np.ndarray = None  # (n, 2, 3) wrist offset from the shoulder, body frame, in arm lengths
    hand_world: np.ndarray = None  # (n, 2, 3) world wrist targets
    hand_w: np.ndarray = None  # (n, 2) weight of the world target
    pole_rel: np.ndarray = None  # (n, 2, 3) elbow pole direction, body frame
    wrist_flex: np.ndarray = None  # (n, 2) wrist flexion (+ palm side)
    foot_world: np.ndarray = None  # (n, 2, 3) world ankle targets overriding the gait (kicks)
    foot_w: np.ndarray = None  # (n, 2)
    foot_pitch: np.ndarray = None  # (n, 2) extra foot pitch (+ toe down)
    feet_dy: np.ndarray = None  # (n,) both feet lifted with the body (jumps)
    arm_swing: float = 1.0  # scale of walking arm swing

    def __post_init__(self) -> None:
        n = self.n
        defaults = {
            "xz": np.zeros((n, 2)), "heading": np.zeros(n), "pelvis_dy": np.zeros(n),
            "lean": np.zeros((n, 3)), "head": np.zeros((n, 2)), "look_at": np.zeros((n, 3)),
            "look_w": np.zeros(n), "hand_rel": np.tile(RELAXED_HAND, (n, 2, 1)),
            "hand_world": np.zeros((n, 2, 3)), "hand_w": np.zeros((n, 2)),
            "pole_rel": np.tile(RELAXED_POLE, (n, 2, 1)), "wrist_flex": np.zeros((n, 2)),
            "foot_world": np.zeros((n, 2, 3)), "foot_w": np.zeros((n, 2)), "foot_pitch": np.zeros((n, 2)),
            "feet_dy": np.zeros(n),
        }
        for k, v in defaults.items():
            if getattr(self, k) is None:
                setattr(self, k, v)

    def place(self, xz, heading: float) -> None:
        """Stand at one spot for the whole clip."""
        self.xz[:] = np.asarray(xz, dtype=np.float64)
        self.heading[:] = heading

    def crop(self, n: int) -> "Track":
        arrays = {k: v[:n] for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        loco = [Locomotion(l.start, min(l.end, n), l.style, l.first_foot) for l in self.loco if l.start < n - 1]
        return Track(n=n, loco=loco, arm_swing=self.arm_swing, **arrays)
