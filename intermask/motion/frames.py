"""Rigid ground-plane frames: move a motion into a canonical frame and back.

A ``GroundFrame`` is a rotation about the vertical axis plus a horizontal shift and a floor offset: the part of
canonicalisation (:func:`intermask.motion.features.canonicalize`) that reaction generation and long-sequence composition must undo to put generated
motion back into the user's world.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intermask import skeleton as sk
from intermask.motion.features import POS, VEL


@dataclass(frozen=True)
class GroundFrame:
    """world → canonical: p_c = R_y(yaw) · (p_w − origin); ``origin`` includes the floor height in y."""
    yaw: float
    origin: tuple[float, float, float]

    @property
    def rotation(self) -> np.ndarray:
        return sk.y_rotation(np.float64(self.yaw))

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64) - np.asarray(self.origin)
        return (p @ self.rotation.T).astype(np.float32)

    def to_world(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64) @ self.rotation
        return (p + np.asarray(self.origin)).astype(np.float32)

    def vectors_to_canonical(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float64) @ self.rotation.T).astype(np.float32)

    def vectors_to_world(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float64) @ self.rotation).astype(np.float32)

    def features_to_world(self, feat: np.ndarray) -> np.ndarray:
        """Positions and velocities of (…, T, 262) features into the world; rotations are local and unchanged."""
        return self._map_features(feat, self.to_world, self.vectors_to_world)

    def features_to_canonical(self, feat: np.ndarray) -> np.ndarray:
        return self._map_features(feat, self.to_canonical, self.vectors_to_canonical)

    @staticmethod
    def _map_features(feat, points_fn, vectors_fn) -> np.ndarray:
        out = np.array(feat, dtype=np.float32)
        shape = out.shape[:-1] + (22, 3)
        out[..., POS] = points_fn(out[..., POS].reshape(shape)).reshape(out[..., POS].shape)
        out[..., VEL] = vectors_fn(out[..., VEL].reshape(shape)).reshape(out[..., VEL].shape)
        return out


def facing_frame(joints: np.ndarray, frame: int = 0, floor: float | None = None) -> GroundFrame:
    """The frame that puts a person's root at the origin at ``frame``, facing +Z, floor at y = 0.

    joints: (T, 22, 3) Y-up. The facing comes from the hips as in canonicalisation (forward = up × (right hip − left hip)).
    """
    joints = np.asarray(joints, dtype=np.float64)
    if floor is None:
        floor = float(joints[..., 1].min())
    across = joints[frame, 2] - joints[frame, 1]
    forward = np.cross([0.0, 1.0, 0.0], across)
    yaw_forward = np.arctan2(forward[0], forward[2])  # heading angle of "forward" about +Y, 0 = +Z
    root = joints[frame, 0]
    return GroundFrame(yaw=float(-yaw_forward), origin=(float(root[0]), floor, float(root[2])))
