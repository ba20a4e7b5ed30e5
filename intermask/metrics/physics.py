"""Physical plausibility of generated motion, on joint positions (T, 22, 3) Y-up metres or an Interaction.

- foot skating: mean horizontal speed (m/s) of a foot joint while it is in contact, contact being "low and
  slow" exactly as in :func:`intermask.motion.features.foot_contacts`;
- ground penetration: mean depth below y = 0 of the foot joints, and the fraction of frames with any;
- inter-person penetration: each bone is a capsule with a radius per body part; mean depth of the deepest
  overlap between the two bodies per frame, and the fraction of frames with any overlap;
- jitter: mean acceleration and jerk magnitudes (m/s², m/s³);
- bone-length drift: std of each bone's length over time divided by its mean, averaged over bones.
"""
from __future__ import annotations

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.motion.features import foot_contacts

FOOT_JOINTS = (sk.FOOT_LEFT[0], sk.FOOT_LEFT[1], sk.FOOT_RIGHT[0], sk.FOOT_RIGHT[1])
# Capsule radius (m) of the bone ending at each child joint, for a body of 1.7 m: trunk thick, limbs thin.
_RADIUS_BY_CHILD = {
    1: 0.08, 2: 0.08, 3: 0.10, 6: 0.11, 9: 0.11, 12: 0.06, 15: 0.09, 13: 0.06, 14: 0.06, 16: 0.05, 17: 0.05,
    4: 0.07, 5: 0.07, 7: 0.05, 8: 0.05, 10: 0.04, 11: 0.04, 18: 0.045, 19: 0.045, 20: 0.035, 21: 0.035,
}
CAPSULE_RADII = np.array([_RADIUS_BY_CHILD[b[1]] for b in sk.BONES])


def _joints(x, dims: int = 3) -> np.ndarray:
    arr = np.asarray(getattr(x, "joints", x), dtype=np.float64)
    if arr.shape[-2:] != (22, 3) or arr.ndim != dims:
        raise InterMaskError(f"Expected joints of shape {'(2, T, 22, 3)' if dims == 4 else '(T, 22, 3)'}; "
                             f"got {arr.shape}.")
    return arr


def foot_skating(joints: np.ndarray, fps: float = 30.0) -> float:
    """Mean horizontal speed (m/s) of foot joints over the frames where they are in contact (0 if none)."""
    j = _joints(joints)
    if len(j) < 2:
        return 0.0
    contact = foot_contacts(j).astype(bool)  # (T−1, 4)
    disp = j[1:, FOOT_JOINTS][..., [0, 2]] - j[:-1, FOOT_JOINTS][..., [0, 2]]
    speed = np.linalg.norm(disp, axis=-1) * fps
    return float(speed[contact].mean()) if contact.any() else 0.0


def ground_penetration(joints: np.ndarray) -> tuple[float, float]:
    """(mean depth below the floor of the foot joints over all frames and feet, fraction of frames with any)."""
    j = _joints(joints)
    depth = np.maximum(-j[:, FOOT_JOINTS, 1], 0.0)
    return float(depth.mean()), float((depth.max(axis=1) > 1e-3).mean())


def segment_closest_points(p0, p1, q0, q1) -> tuple[np.ndarray, np.ndarray]:
    """Closest points (on p0p1, on q0q1) of two segments, broadcast over leading dimensions."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    f = np.sum(d2 * r, -1)
    c = np.sum(d1 * r, -1)
    b = np.sum(d1 * d2, -1)
    denom = a * e - b * b
    s = np.where(denom > 1e-12, np.clip((b * f - c * e) / np.maximum(denom, 1e-12), 0, 1), 0.0)
    t = (b * s + f) / np.maximum(e, 1e-12)
    # Re-clamp t, then recompute s for the clamped t (standard closest-points-of-segments).
    t_c = np.clip(t, 0, 1)
    s = np.where(t < 0, np.clip(-c / np.maximum(a, 1e-12), 0, 1),
                 np.where(t > 1, np.clip((b - c) / np.maximum(a, 1e-12), 0, 1), s))
    return p0 + s[..., None] * d1, q0 + t_c[..., None] * d2


def _segment_distance(p0, p1, q0, q1) -> np.ndarray:
    """Closest distance between segments p0p1 and q0q1, broadcast over leading dimensions."""
    cp, cq = segment_closest_points(p0, p1, q0, q1)
    return np.linalg.norm(cp - cq, axis=-1)


def body_capsules(exclude_hands: bool = True, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(bones (B, 2) parent/child joint indices, radii (B,) m) of the capsules the body-overlap metric measures.

    Forearm/hand capsules are left out by default, since hands touch on purpose in handshakes, high-fives and
    hugs; the refinement step (intermask/motion/refine.py) separates exactly these capsules.
    """
    bones = np.array(sk.BONES)
    keep = np.ones(len(bones), dtype=bool)
    if exclude_hands:
        keep &= ~np.isin(bones[:, 1], (20, 21))
    return bones[keep], CAPSULE_RADII[keep] * scale


def interpenetration(pair, scale: float = 1.0, exclude_hands: bool = True) -> tuple[float, float]:
    """(mean over frames of the deepest capsule overlap between the two persons (m), fraction of frames).

    ``pair``: joints (2, T, 22, 3) or an Interaction. Forearm/hand capsules are left out by default, since
    hands touch on purpose in handshakes, high-fives and hugs.
    """
    j = _joints(pair, dims=4)
    bones, radii = body_capsules(exclude_hands, scale)
    a0, a1 = j[0][:, bones[:, 0]], j[0][:, bones[:, 1]]  # (T, B, 3)
    b0, b1 = j[1][:, bones[:, 0]], j[1][:, bones[:, 1]]
    dist = _segment_distance(a0[:, :, None], a1[:, :, None], b0[:, None], b1[:, None])  # (T, B, B)
    depth = np.maximum(radii[:, None] + radii[None, :] - dist, 0.0).max(axis=(1, 2))
    return float(depth.mean()), float((depth > 1e-3).mean())


def jitter(joints: np.ndarray, fps: float = 30.0) -> tuple[float, float]:
    """(mean acceleration magnitude m/s², mean jerk magnitude m/s³) over joints and frames."""
    j = _joints(joints)
    acc = np.diff(j, n=2, axis=0) * fps ** 2
    jerk = np.diff(j, n=3, axis=0) * fps ** 3
    a = float(np.linalg.norm(acc, axis=-1).mean()) if len(acc) else 0.0
    k = float(np.linalg.norm(jerk, axis=-1).mean()) if len(jerk) else 0.0
    return a, k


def bone_length_drift(joints: np.ndarray) -> float:
    """Mean over bones of std(length)/mean(length)."""
    lengths = sk.bone_lengths(_joints(joints))
    return float((lengths.std(axis=0) / np.maximum(lengths.mean(axis=0), 1e-9)).mean())


def summary(x, fps: float | None = None) -> dict:
    """All physics metrics of an Interaction (or joints (2, T, 22, 3)), averaged over the two persons."""
    fps = float(fps or getattr(x, "fps", 30))
    j = _joints(x, dims=4)
    per = [(foot_skating(p, fps), *ground_penetration(p), *jitter(p, fps), bone_length_drift(p)) for p in j]
    m = np.mean(np.array(per), axis=0)
    pen_depth, pen_frac = interpenetration(j)
    return {
        "foot_skate_mps": float(m[0]), "ground_penetration_m": float(m[1]), "ground_penetration_frac": float(m[2]),
        "acceleration_mps2": float(m[3]), "jerk_mps3": float(m[4]), "bone_length_drift": float(m[5]),
        "interpenetration_m": pen_depth, "interpenetration_frac": pen_frac,
    }


def aggregate(summaries: list[dict]) -> dict:
    """Mean of each metric over several :func:`summary` dicts."""
    if not summaries:
        return {}
    return {k: float(np.mean([s[k] for s in summaries])) for k in summaries[0]}
