"""Analytic two-bone IK and bone-aiming rotations, vectorised over frames.

A limb (hip–knee–ankle or shoulder–elbow–wrist) is solved in the plane of the target and a pole direction;
the joint bends toward the pole, and clamping the reach keeps flexion within [min, max] — the elbow and knee
limits come out of the geometry. Each bone's global rotation is the "look-at" rotation taking its rest
direction and rest hinge axis to the posed ones, so the middle joint's local rotation is a pure hinge.
"""
from __future__ import annotations

import numpy as np


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def frame(direction: np.ndarray, hinge: np.ndarray) -> np.ndarray:
    """Orthonormal frame (..., 3, 3) with columns [direction, hinge × direction, hinge]."""
    a = _unit(direction)
    c = _unit(hinge - np.sum(hinge * a, -1, keepdims=True) * a)
    b = np.cross(c, a)
    return np.stack([a, b, c], axis=-1)


def aim(rest_dir: np.ndarray, rest_hinge: np.ndarray, direction: np.ndarray, hinge: np.ndarray) -> np.ndarray:
    """Global rotation taking (rest_dir, rest_hinge) onto (direction, hinge)."""
    f_rest = frame(np.asarray(rest_dir, dtype=np.float64), np.asarray(rest_hinge, dtype=np.float64))
    return frame(direction, hinge) @ np.swapaxes(f_rest, -1, -2)


def two_bone(root: np.ndarray, target: np.ndarray, pole: np.ndarray, l1: float, l2: float,
             min_flex: float = np.deg2rad(2.0), max_flex: float = np.deg2rad(140.0)):
    """Middle-joint positions (..., 3) and the hinge axis for a limb reaching ``target`` from ``root``.

    Flexion (π − interior angle) is clamped to [min_flex, max_flex] by clamping the reach distance; an
    unreachable target is approached along the same line.
    """
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    dn = d / np.maximum(dist, 1e-9)
    lo = np.sqrt(l1 * l1 + l2 * l2 - 2 * l1 * l2 * np.cos(np.pi - max_flex))
    hi = np.sqrt(l1 * l1 + l2 * l2 - 2 * l1 * l2 * np.cos(np.pi - min_flex))
    r = np.clip(dist, lo, hi)
    cos_a = np.clip((l1 * l1 + r * r - l2 * l2) / (2 * l1 * r), -1.0, 1.0)
    p = pole - np.sum(pole * dn, -1, keepdims=True) * dn
    pn = np.linalg.norm(p, axis=-1, keepdims=True)
    # A pole parallel to the limb: fall back to any perpendicular direction (rare, keeps it finite).
    alt = np.cross(dn, np.array([0.0, 1.0, 0.0]))
    alt = np.where(np.linalg.norm(alt, axis=-1, keepdims=True) < 1e-6, np.cross(dn, [1.0, 0.0, 0.0]), alt)
    p = np.where(pn < 1e-6, alt, p)
    p = _unit(p)
    mid = root + l1 * (cos_a * dn + np.sqrt(1 - cos_a ** 2) * p)
    end = root + r * dn
    hinge = np.cross(p, dn)
    return mid, end, hinge
