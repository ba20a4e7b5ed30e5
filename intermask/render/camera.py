"""A camera that frames both people for the whole clip (fixed or following), shared by mesh and stick renders.

Conventions: world Y-up; a camera pose is a 4×4 camera-to-world matrix looking down its −Z axis with +Y up
(OpenGL / pyrender). Azimuth is measured about the vertical axis: 0° puts the camera on the +Z side looking
towards −Z (it sees the front of a person in the rest pose). ``None`` chooses the side view of the pair
from which the two faces are best seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intermask import skeleton as sk
from intermask.render.posing import gaussian_smooth


@dataclass(frozen=True)
class CameraSettings:
    azimuth: float | None = None  # degrees; None = automatic side view of the pair
    elevation: float = 15.0  # degrees above the horizon
    yfov: float = 40.0  # vertical field of view, degrees
    follow: bool = False  # move with the pair instead of one fixed framing
    margin: float = 0.12  # metres of room around the bodies


@dataclass
class CameraPath:
    poses: np.ndarray  # (T, 4, 4) camera-to-world
    yfov: float  # radians
    aspect: float  # width / height

    def pose(self, t: int) -> np.ndarray:
        return self.poses[min(t, len(self.poses) - 1)]

    def project(self, points: np.ndarray, t: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (..., 2) (x right, y down) and view depth (...,) of world points at frame t."""
        pose = self.pose(t)
        rel = (np.asarray(points, dtype=np.float64) - pose[:3, 3]) @ pose[:3, :3]
        depth = np.maximum(-rel[..., 2], 1e-6)
        f = 0.5 * height / np.tan(0.5 * self.yfov)
        x = width * 0.5 + f * rel[..., 0] / depth
        y = height * 0.5 - f * rel[..., 1] / depth
        return np.stack([x, y], -1), depth


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    eye = np.asarray(eye, dtype=np.float64)
    z = eye - np.asarray(target, dtype=np.float64)
    z /= max(np.linalg.norm(z), 1e-9)
    x = np.cross(np.asarray(up, dtype=np.float64), z)
    x /= max(np.linalg.norm(x), 1e-9)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, np.cross(z, x), z, eye
    return pose


def auto_azimuth(joints: np.ndarray) -> float:
    """Degrees: a side view of the pair (perpendicular to the line between them), on the side they face."""
    joints = np.asarray(joints, dtype=np.float64)
    pelvis = joints[:, :, 0].mean(axis=1)  # (2, 3)
    forward = sk.root_orientation_from_joints(joints[:, :, :22])[..., :, 2].mean(axis=1)  # (2, 3)
    forward[:, 1] = 0.0
    base = pelvis[1] - pelvis[0]
    base[1] = 0.0
    if np.linalg.norm(base) < 0.2:  # on top of each other: look at person A's front
        d = forward[0]
    else:
        d = np.array([-base[2], 0.0, base[0]])
        if np.dot(d, forward.sum(axis=0)) < 0:
            d = -d
    if np.linalg.norm(d) < 1e-6:
        d = np.array([0.0, 0.0, 1.0])
    return float(np.degrees(np.arctan2(d[0], d[2])))


def _frame_points(joints: np.ndarray) -> np.ndarray:
    """Points (T, N, 3) that must stay in view: all joints, the tops of the heads and the floor under them."""
    j = np.asarray(joints, dtype=np.float64)  # (P, T, 22, 3)
    head_top = j[:, :, 15] + np.array([0.0, 0.13, 0.0])
    feet = j[:, :, [10, 11]].copy()
    feet[..., 1] = np.minimum(feet[..., 1], 0.0)
    pts = np.concatenate([j, head_top[:, :, None], feet], axis=2)
    return pts.transpose(1, 0, 2, 3).reshape(j.shape[1], -1, 3)


def frame_camera(joints: np.ndarray, settings: CameraSettings = CameraSettings(), aspect: float = 1.0,
                 azimuth_offset: float = 0.0) -> CameraPath:
    """Camera poses that keep every joint of both persons (P, T, 22, 3) in view over the whole clip."""
    pts = _frame_points(joints)  # (T, N, 3)
    T = pts.shape[0]
    az = np.radians((auto_azimuth(joints) if settings.azimuth is None else settings.azimuth) + azimuth_offset)
    el = np.radians(settings.elevation)
    back = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])  # target → camera
    rot = look_at(back, np.zeros(3))[:3, :3]  # camera axes, independent of position
    lo, hi = pts.min(axis=(0, 1)), pts.max(axis=(0, 1))
    if settings.follow:
        centre = gaussian_smooth(0.5 * (pts.min(axis=1) + pts.max(axis=1)), 12.0)
        centre[:, 1] = 0.5 * (lo[1] + hi[1])
    else:
        centre = np.broadcast_to(0.5 * (lo + hi), (T, 3))
    tan_y = np.tan(np.radians(settings.yfov) / 2)
    tan_x = tan_y * aspect
    rel = (pts - centre[:, None]) @ rot  # camera axes: x right, y up, z towards the camera
    m = settings.margin
    # Distance along `back` at which each point fits: |x| + m <= (d - z) tan.
    need = np.maximum((np.abs(rel[..., 0]) + m) / tan_x, (np.abs(rel[..., 1]) + m) / tan_y) + rel[..., 2]
    dist = max(float(need.max()), 1.0)
    poses = np.stack([look_at(c + back * dist, c) for c in centre])
    return CameraPath(poses=poses if settings.follow else poses[:1], yfov=np.radians(settings.yfov), aspect=aspect)
