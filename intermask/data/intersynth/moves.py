"""Reusable pieces of motion written into a scene's tracks: reaches, arm gestures, leans, idle life."""
from __future__ import annotations

import numpy as np

from intermask.data.intersynth.scene import Scene
from intermask.data.intersynth.timing import blend, envelope

RAISED_POLE = np.array([1.0, -0.6, -0.3])
FRONT_POLE = np.array([0.8, -1.0, -0.4])


def env(sc: Scene, a: float, b: float, c: float, d: float) -> np.ndarray:
    return envelope(len(sc.tracks[0].xz), a, b, c, d)


def reach(sc: Scene, p: int, hand: int, a, b, c, d, target, pole=FRONT_POLE) -> np.ndarray:
    """Hand of person p goes to a world ``target`` ((3,) or (n, 3) for the whole buffer) between frames
    a→b, stays until c, returns by d. Returns the weight envelope."""
    tr = sc.tracks[p]
    w = env(sc, a, b, c, d)
    target = np.asarray(target, dtype=np.float64)
    tr.hand_world[:, hand] = np.where(w[:, None] > 0, target if target.ndim == 2 else target[None], tr.hand_world[:, hand])
    tr.hand_w[:, hand] = np.maximum(tr.hand_w[:, hand], w)
    blend(tr.pole_rel[:, hand], pole, w)
    return w


def gesture(sc: Scene, p: int, hand: int, a, b, c, d, rel, pole=FRONT_POLE) -> np.ndarray:
    """Blend the body-frame hand offset (arm lengths; (3,) or (n, 3)) in over a→b and out over c→d."""
    tr = sc.tracks[p]
    w = env(sc, a, b, c, d)
    blend(tr.hand_rel[:, hand], rel, w)
    blend(tr.pole_rel[:, hand], pole, w)
    return w


def lean(sc: Scene, p: int, a, b, c, d, flex: float = 0.0, side: float = 0.0, twist: float = 0.0) -> np.ndarray:
    w = env(sc, a, b, c, d)
    sc.tracks[p].lean += w[:, None] * np.array([flex, side, twist])
    return w


def hop(sc: Scene, p: int, t0: int, height: float, crouch: float, air: float = 0.45) -> int:
    """One jump starting at t0: crouch, take off, flight of ``air`` s with both feet lifted, land, recover."""
    tr = sc.tracks[p]
    n = len(tr.xz)
    t = np.arange(n, dtype=np.float64)
    dip1 = sc.s(0.35)
    fl = sc.s(air)
    take, land = t0 + dip1, t0 + dip1 + fl
    u = np.clip((t - take) / fl, 0, 1)
    flight = np.where((t >= take) & (t <= land), 4 * u * (1 - u), 0.0)
    pre = envelope(n, t0, take - 2, take - 2, take + 2)
    post = envelope(n, land - 2, land + 2, land + 2, land + sc.s(0.35))
    tr.pelvis_dy += height * flight - crouch * (pre + post)
    # Feet follow the pelvis while in the air (a little less: legs tuck slightly).
    tr.feet_dy += 0.9 * height * flight
    return int(land + sc.s(0.35))


def idle(sc: Scene, p: int, rng: np.random.Generator) -> None:
    """Quiet-standing life over the whole buffer: breathing, slow sway, head drift, weight shifts, arm noise."""
    tr = sc.tracks[p]
    n = len(tr.xz)
    t = np.arange(n) / sc.fps
    def wave(f_lo, f_hi, amp):
        return amp * np.sin(2 * np.pi * rng.uniform(f_lo, f_hi) * t + rng.uniform(0, 2 * np.pi))
    s = sc.bodies[p].scale
    tr.lean[:, 0] += wave(0.2, 0.3, 0.012) + wave(0.05, 0.15, 0.01)
    tr.lean[:, 1] += wave(0.05, 0.2, 0.012)
    tr.lean[:, 2] += wave(0.05, 0.2, 0.02)
    tr.head[:, 0] += wave(0.1, 0.4, 0.03)
    tr.head[:, 1] += wave(0.1, 0.3, 0.05)
    lateral = wave(0.1, 0.3, 0.006 * s) + wave(0.03, 0.08, 0.012 * s)
    h = tr.heading
    tr.xz[:, 0] += lateral * np.cos(h)
    tr.xz[:, 1] += -lateral * np.sin(h)
    tr.hand_rel[:, :, 2] += np.stack([wave(0.1, 0.4, 0.02), wave(0.1, 0.4, 0.02)], -1)
    tr.hand_rel[:, :, 0] += np.stack([wave(0.1, 0.4, 0.015), wave(0.1, 0.4, 0.015)], -1)
    tr.arm_swing *= rng.uniform(0.7, 1.3)
