"""One synthetic person: stature, bone lengths scaled from the SMPL rest skeleton, and nominal landmarks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intermask import skeleton as sk

REST_STATURE = sk.rest_height()
# Joint groups whose bones get one shared jitter factor, so that left and right limbs stay equal.
_SEGMENT_GROUPS = {
    "thigh": (4, 5), "shin": (7, 8), "foot": (10, 11), "spine": (3, 6, 9), "neck": (12, 15),
    "collar": (13, 14, 16, 17), "upper_arm": (18, 19), "forearm": (20, 21), "hips": (1, 2),
}


@dataclass(frozen=True)
class Body:
    stature: float
    offsets: np.ndarray  # (22, 3) per-person rest offsets

    @property
    def scale(self) -> float:
        return self.stature / REST_STATURE

    def rest(self) -> np.ndarray:
        """Rest joints relative to the pelvis, (22, 3)."""
        return sk.rest_joints(self.offsets)

    def length(self, joint: int) -> float:
        return float(np.linalg.norm(self.offsets[joint]))

    @property
    def arm_length(self) -> float:
        return self.length(18) + self.length(20)

    @property
    def leg_length(self) -> float:
        return self.length(4) + self.length(7)

    @property
    def ankle_height(self) -> float:
        """Height of the ankle joint above the toe joint when the foot is flat (toe joint on the floor)."""
        return float(-self.offsets[10, 1])

    @property
    def pelvis_height(self) -> float:
        """Pelvis height above the floor with straight legs and flat feet."""
        r = self.rest()
        return float(-r[[10, 11], 1].min())

    @property
    def hip_half_width(self) -> float:
        return float(abs(self.rest()[1, 0] - self.rest()[2, 0]) / 2)

    def landmark(self, joint: int, xz: np.ndarray, heading: np.ndarray, pelvis_y: np.ndarray) -> np.ndarray:
        """Nominal world position (T, 3) of a rest-pose joint for an upright body at a root path.

        Ignores arm and trunk pose; used for targets on the partner's body (shoulders, chest, back).
        """
        r = self.rest()[joint]
        heading = np.asarray(heading, dtype=np.float64)
        c, s = np.cos(heading), np.sin(heading)
        x = c * r[0] + s * r[2]
        z = -s * r[0] + c * r[2]
        return np.stack([xz[..., 0] + x, pelvis_y + r[1], xz[..., 1] + z], axis=-1)


def make_body(stature: float, jitter: np.ndarray | None = None) -> Body:
    """Body of a given stature (m); ``jitter`` (len(_SEGMENT_GROUPS)) multiplies segment groups' lengths."""
    offsets = sk.REST_OFFSETS * (stature / REST_STATURE)
    if jitter is not None:
        offsets = offsets.copy()
        for f, joints in zip(jitter, _SEGMENT_GROUPS.values()):
            offsets[list(joints)] *= f
    # Jitter changes the stature a little: rescale so that the body has exactly the stature asked for.
    offsets = offsets * (stature / sk.rest_height(offsets))
    return Body(stature=float(stature), offsets=offsets)


def sample_body(rng: np.random.Generator, low: float = 1.5, high: float = 1.95) -> Body:
    """Stature roughly normal around 1.71 m, clipped to [low, high], with ±3% independent segment jitter."""
    stature = float(np.clip(rng.normal(1.71, 0.09), low, high))
    jitter = rng.uniform(0.97, 1.03, size=len(_SEGMENT_GROUPS))
    return make_body(stature, jitter)


def forward(heading: np.ndarray) -> np.ndarray:
    """Unit facing direction(s) (..., 3) for headings (rest faces +Z; heading rotates about +Y)."""
    heading = np.asarray(heading, dtype=np.float64)
    return np.stack([np.sin(heading), np.zeros_like(heading), np.cos(heading)], -1)


def leftward(heading: np.ndarray) -> np.ndarray:
    heading = np.asarray(heading, dtype=np.float64)
    return np.stack([np.cos(heading), np.zeros_like(heading), -np.sin(heading)], -1)
