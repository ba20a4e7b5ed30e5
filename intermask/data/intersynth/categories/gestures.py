"""Gestures done on the spot, toward the partner: wave, bow, point, clap, jump."""
from __future__ import annotations

import numpy as np

from intermask.data.intersynth import moves
from intermask.data.intersynth.scene import Scene
from intermask.data.intersynth.track import LEFT, RIGHT

SIDES = ("left", "right")


def _who(rng, p_both: float) -> int | str:
    return "both" if rng.random() < p_both else int(rng.integers(2))


def _persons(actor) -> tuple[int, ...]:
    return (0, 1) if actor == "both" else (actor,)


def wave(sc: Scene, t0: int, rng) -> dict:
    actor = _who(rng, 0.3)
    hand = RIGHT if rng.random() < 0.6 else LEFT
    count = int(rng.integers(1, 4))
    freq = rng.uniform(1.5, 2.5)
    n = len(sc.tracks[0].xz)
    tt = np.arange(n)
    end = t0
    for i, p in enumerate(_persons(actor)):
        t = t0 + sc.s(rng.uniform(0.3, 0.8)) + (sc.s(rng.uniform(0.2, 0.6)) if i else 0)
        up = sc.s(rng.uniform(0.4, 0.6))
        a = t + up
        dur = sc.s(count / freq)
        ph = np.clip((tt - a) / max(dur, 1), 0, 1)
        # Side-to-side hand sweeps: `count` full cycles, starting and ending at the centre.
        osc = 0.22 * np.sin(2 * np.pi * count * ph)
        rel = np.tile([0.38, rng.uniform(0.3, 0.45), 0.22], (n, 1))
        rel[:, 0] += osc
        c = a + dur
        moves.gesture(sc, p, hand, t, a, c + 2, c + sc.s(0.6), rel, moves.RAISED_POLE)
        sc.tracks[p].wrist_flex[:, hand] += 0.3 * np.sin(2 * np.pi * count * ph)
        end = max(end, c + sc.s(0.6))
    end += sc.s(rng.uniform(0.3, 0.8))
    return {"end": end, "label": {"actor": actor, "side": SIDES[hand], "limb": "hand", "count": count,
                                  "contact": False}, "words": {}}


def bow(sc: Scene, t0: int, rng) -> dict:
    actor = _who(rng, 0.4)
    depth = rng.uniform(0.26, 0.8)
    count = 1 if rng.random() < 0.8 else 2
    end = t0
    for i, p in enumerate(_persons(actor)):
        t = t0 + sc.s(rng.uniform(0.3, 0.7)) + (sc.s(rng.uniform(0.1, 0.5)) if i else 0)
        for _ in range(count):
            down = sc.s(rng.uniform(0.5, 0.8))
            hold = sc.s(rng.uniform(0.4, 1.2) if count == 1 else 0.3)
            up = sc.s(rng.uniform(0.5, 0.8))
            moves.lean(sc, p, t, t + down, t + down + hold, t + down + hold + up, flex=depth)
            # Hips move back to keep the balance over the feet.
            sc.tracks[p].pelvis_dy += -0.02 * depth * moves.env(sc, t, t + down, t + down + hold, t + down + hold + up)
            sc.tracks[p].look_w *= 1.0 - moves.env(sc, t, t + down, t + down + hold, t + down + hold + up)
            t = t + down + hold + up + sc.s(0.15)
        end = max(end, t)
    end += sc.s(rng.uniform(0.3, 0.8))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": None, "count": count, "contact": False,
                                  "depth": "deep" if depth > 0.55 else "slight"}, "words": {}}


def point(sc: Scene, t0: int, rng) -> dict:
    actor = int(rng.integers(2))
    hand = RIGHT if rng.random() < 0.65 else LEFT
    q = 1 - actor
    t = t0 + sc.s(rng.uniform(0.3, 0.8))
    up = sc.s(rng.uniform(0.5, 0.8))
    hold = sc.s(rng.uniform(0.8, 2.0))
    sh = sc.landmark(actor, 16 if hand == LEFT else 17)
    chest = sc.landmark(q, 9) + np.array([0, 0.1, 0])
    d = chest - sh
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    target = sh + rng.uniform(0.85, 0.95) * sc.bodies[actor].arm_length * d
    a = t + up
    moves.reach(sc, actor, hand, t, a, a + hold, a + hold + sc.s(0.6), target, np.array([1.0, -0.4, -0.2]))
    # The other one reacts: a hand to the own chest ("me?") or just watching.
    if rng.random() < 0.5:
        moves.gesture(sc, q, RIGHT if rng.random() < 0.5 else LEFT, a + sc.s(0.3), a + sc.s(0.8), a + hold,
                      a + hold + sc.s(0.6), np.array([-0.3, -0.45, 0.35]))
    end = a + hold + sc.s(0.6) + sc.s(rng.uniform(0.3, 0.7))
    return {"end": end, "label": {"actor": actor, "side": SIDES[hand], "limb": "hand", "count": None,
                                  "contact": False}, "words": {}}


def clap(sc: Scene, t0: int, rng) -> dict:
    actor = _who(rng, 0.6)
    count = int(rng.integers(2, 6))
    rate = rng.uniform(2.0, 3.5)
    n = len(sc.tracks[0].xz)
    tt = np.arange(n)
    end = t0
    for i, p in enumerate(_persons(actor)):
        b = sc.bodies[p]
        t = t0 + sc.s(rng.uniform(0.3, 0.7)) + (sc.s(rng.uniform(0.0, 0.3)) if i else 0)
        up = sc.s(0.5)
        a = t + up
        dur = sc.s(count / rate)
        ph = np.clip((tt - a) / max(dur, 1), 0, 1)
        # Hands open and meet `count` times; at a clap each wrist is 3 cm from the midline.
        mid_out = -abs(b.rest()[16, 0]) / b.arm_length
        gap = 0.5 * (1 + np.cos(2 * np.pi * count * ph)) * 0.22  # open at both ends, `count` closings
        for hand in (LEFT, RIGHT):
            rel = np.zeros((n, 3))
            rel[:, 0] = mid_out + 0.03 / b.arm_length + gap
            rel[:, 1] = -0.3
            rel[:, 2] = 0.55
            moves.gesture(sc, p, hand, t, a, a + dur + 2, a + dur + sc.s(0.5), rel, np.array([1.0, -1.0, -0.3]))
        end = max(end, a + dur + sc.s(0.5))
    end += sc.s(rng.uniform(0.3, 0.7))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": "hand", "count": count,
                                  "contact": False}, "words": {}}


def jump(sc: Scene, t0: int, rng) -> dict:
    actor = _who(rng, 0.7)
    count = int(rng.integers(1, 4))
    height = rng.uniform(0.1, 0.25)
    end = t0
    for i, p in enumerate(_persons(actor)):
        t = t0 + sc.s(rng.uniform(0.3, 0.6)) + (sc.s(rng.uniform(0.0, 0.2)) if i else 0)
        for _ in range(count):
            t1 = moves.hop(sc, p, t, height * sc.bodies[p].scale, 0.08 * sc.bodies[p].scale)
            # Arms swing up through the take-off.
            for hand in (LEFT, RIGHT):
                moves.gesture(sc, p, hand, t, t + sc.s(0.35), t + sc.s(0.5), t1, np.array([0.2, -0.4, 0.5]))
            moves.lean(sc, p, t, t + sc.s(0.3), t + sc.s(0.4), t + sc.s(0.6), flex=0.25)
            t = t1
        end = max(end, t)
    end += sc.s(rng.uniform(0.3, 0.7))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": "leg", "count": count,
                                  "contact": False}, "words": {}}
