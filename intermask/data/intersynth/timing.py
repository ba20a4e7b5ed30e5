"""Smooth time profiles: minimum-jerk ramps, envelopes and helpers to write into per-frame control arrays."""
from __future__ import annotations

import numpy as np


def minjerk(u: np.ndarray) -> np.ndarray:
    """The minimum-jerk position profile 10u³ − 15u⁴ + 6u⁵ on [0, 1] (clipped outside)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return u * u * u * (10 - 15 * u + 6 * u * u)


def ramp(n: int, start: float, end: float) -> np.ndarray:
    """(n,) frames: 0 before ``start``, minimum-jerk rise, 1 after ``end`` (frame units, floats allowed)."""
    t = np.arange(n, dtype=np.float64)
    if end <= start:
        return (t >= start).astype(np.float64)
    return minjerk((t - start) / (end - start))


def envelope(n: int, a: float, b: float, c: float, d: float) -> np.ndarray:
    """0 → 1 between frames a and b, hold, 1 → 0 between c and d."""
    return ramp(n, a, b) * (1.0 - ramp(n, c, d))


def bump(u: np.ndarray) -> np.ndarray:
    """sin² bump on [0, 1]: zero value and slope at both ends."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return np.sin(np.pi * u) ** 2


def blend(arr: np.ndarray, value, weight: np.ndarray) -> None:
    """In place: arr ← arr + w (value − arr), with w (T,) broadcast over trailing dimensions."""
    w = np.asarray(weight, dtype=np.float64).reshape((-1,) + (1,) * (arr.ndim - 1))
    arr += w * (np.asarray(value, dtype=np.float64) - arr)


def hold_from(arr: np.ndarray, t0: int, values: np.ndarray) -> None:
    """Write ``values`` at frames t0.. and hold the last one to the end (positions that persist)."""
    n = min(len(values), len(arr) - t0)
    if n <= 0:
        return
    arr[t0:t0 + n] = values[:n]
    arr[t0 + n:] = values[n - 1]


def seconds(fps: int, s: float) -> int:
    return int(round(s * fps))
