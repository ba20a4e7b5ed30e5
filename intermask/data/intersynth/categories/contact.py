"""Contact interactions: hands, arms or bodies meet. Targets are shared world points so contacts really meet."""
from __future__ import annotations

import numpy as np

from intermask.data.intersynth import moves
from intermask.data.intersynth.scene import Scene
from intermask.data.intersynth.timing import hold_from
from intermask.data.intersynth.track import LEFT, RIGHT, Locomotion

SIDES = ("left", "right")


def _axes(sc: Scene, t: int):
    """Midpoint (3,) at floor height, unit vector from person 0 to 1 (3,), and its left normal (3,)."""
    a, b = sc.xz(0, t), sc.xz(1, t)
    d = (b - a) / max(np.linalg.norm(b - a), 1e-6)
    mid = np.array([(a[0] + b[0]) / 2, 0.0, (a[1] + b[1]) / 2])
    d3 = np.array([d[0], 0.0, d[1]])
    left = np.array([d[1], 0.0, -d[0]])  # person 0's left
    return mid, d3, left


def _start(sc: Scene, t0: int, rng) -> int:
    return t0 + sc.s(rng.uniform(0.3, 0.8))


def _side(rng, p_right: float = 0.75) -> int:
    return RIGHT if rng.random() < p_right else LEFT


def handshake(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    hand = _side(rng, 0.8)
    mid, d, left = _axes(sc, t)
    m = mid + np.array([0, rng.uniform(0.6, 0.65) * sc.stature, 0])
    first = int(rng.integers(2))
    reach = sc.s(rng.uniform(0.6, 0.9))
    delay = sc.s(rng.uniform(0.1, 0.3))
    pumps = int(rng.integers(2, 5))
    hold = sc.s(pumps / 2.0 + rng.uniform(0.2, 0.6))
    n = len(sc.tracks[0].xz)
    tt = np.arange(n)
    a = t + reach + delay
    pump = rng.uniform(0.03, 0.06) * np.sin(2 * np.pi * 2.0 * (tt - a) / sc.fps) * moves.env(sc, a, a + 4, a + hold - 6, a + hold)
    target = np.tile(m, (n, 1))
    target[:, 1] += pump
    for p in (0, 1):
        start = t if p == first else t + delay
        sign = -1.0 if p == 0 else 1.0
        moves.reach(sc, p, hand, start, start + reach, a + hold, a + hold + sc.s(0.6),
                    target + sign * 0.035 * d, moves.FRONT_POLE)
        moves.lean(sc, p, start, start + reach, a + hold, a + hold + sc.s(0.6), flex=0.08)
    end = a + hold + sc.s(0.6) + sc.s(rng.uniform(0.3, 0.8))
    return {"end": end, "label": {"actor": "both", "side": SIDES[hand], "limb": "hand", "count": None,
                                  "contact": True, "initiator": first}, "words": {}}


def high_five(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    mode = rng.choice(["right", "left", "both"], p=[0.5, 0.2, 0.3])
    mid, d, left = _axes(sc, t)
    first = int(rng.integers(2))
    raise_t = sc.s(rng.uniform(0.5, 0.8))
    delay = sc.s(rng.uniform(0.05, 0.25))
    impact = t + raise_t + delay
    height = (rng.uniform(1.0, 1.1) if mode != "both" else rng.uniform(0.78, 0.85)) * sc.stature
    hands = (LEFT, RIGHT) if mode == "both" else ((RIGHT,) if mode == "right" else (LEFT,))
    for hand in hands:
        # Person 0's hand on its own side; in a one-hand five the hands cross to the middle.
        lat = 0.0 if mode != "both" else (0.2 if hand == LEFT else -0.2) * sc.stature / 1.7
        for p in (0, 1):
            start = t if p == first else t + delay
            own_lat = lat if p == 0 else -lat  # person 1's left is person 0's right
            m = mid + np.array([0, height, 0]) + own_lat * left
            sign = -1.0 if p == 0 else 1.0
            recoil = sc.s(0.15)
            moves.reach(sc, p, hand, start, impact, impact + 1, impact + recoil + sc.s(0.5),
                        m + sign * 0.03 * d, moves.RAISED_POLE)
    end = impact + sc.s(0.7) + sc.s(rng.uniform(0.3, 0.8))
    return {"end": end, "label": {"actor": "both", "side": None if mode == "both" else str(mode),
                                  "limb": "hand", "count": None, "contact": True, "hands": 2 if mode == "both" else 1},
            "words": {}}


def fist_bump(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    hand = _side(rng, 0.75)
    mid, d, left = _axes(sc, t)
    m = mid + np.array([0, rng.uniform(0.68, 0.74) * sc.stature, 0])
    first = int(rng.integers(2))
    reach, delay = sc.s(rng.uniform(0.5, 0.7)), sc.s(rng.uniform(0.05, 0.2))
    impact = t + reach + delay
    for p in (0, 1):
        start = t if p == first else t + delay
        sign = -1.0 if p == 0 else 1.0
        moves.reach(sc, p, hand, start, impact, impact + sc.s(0.1), impact + sc.s(0.7), m + sign * 0.07 * d)
    end = impact + sc.s(0.7) + sc.s(rng.uniform(0.3, 0.8))
    return {"end": end, "label": {"actor": "both", "side": SIDES[hand], "limb": "hand", "count": None,
                                  "contact": True}, "words": {}}


def hug(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    into = sc.s(rng.uniform(0.7, 1.0))
    hold = sc.s(rng.uniform(1.5, 3.0))
    out = sc.s(rng.uniform(0.6, 0.9))
    a, b, c, e = t, t + into, t + into + hold, t + into + hold + out
    n = len(sc.tracks[0].xz)
    tt = np.arange(n)
    sway = 0.05 * np.sin(2 * np.pi * rng.uniform(0.3, 0.5) * (tt - b) / sc.fps) * moves.env(sc, a, b, c, e)
    for p in (0, 1):
        q = 1 - p
        back = sc.landmark(q, 9) - 0.0
        fwd_q = np.stack([np.sin(sc.tracks[q].heading), np.zeros(n), np.cos(sc.tracks[q].heading)], -1)
        left_q = np.stack([np.cos(sc.tracks[q].heading), np.zeros(n), -np.sin(sc.tracks[q].heading)], -1)
        depth = 0.13 * sc.bodies[q].scale
        for hand in (LEFT, RIGHT):
            # My left hand reaches around the partner's right side (their −left), and vice versa.
            lat = (-1.0 if hand == LEFT else 1.0) * 0.09 * sc.bodies[q].scale
            hgt = (0.06 if (hand == RIGHT) == (p == 0) else -0.04) * sc.stature
            target = back - depth * fwd_q + lat * left_q + np.array([0, hgt, 0])
            moves.reach(sc, p, hand, a, b, c, e, target, np.array([1.0, -0.3, 0.1]))
        moves.lean(sc, p, a, b, c, e, flex=0.06, twist=0.0)
        sc.tracks[p].head[:, 1] += 0.45 * moves.env(sc, a, b, c, e)
        sc.tracks[p].lean[:, 1] += sway
        sc.tracks[p].look_w[a:e] *= 0.2
    end = e + sc.s(rng.uniform(0.3, 0.8))
    return {"end": end, "label": {"actor": "both", "side": None, "limb": "arm", "count": None, "contact": True},
            "words": {}}


def give(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    giver = int(rng.integers(2))
    hand = _side(rng, 0.65)
    recv_hand = 1 - hand if rng.random() < 0.6 else hand
    mid, d, left = _axes(sc, t)
    m = mid + np.array([0, rng.uniform(0.55, 0.66) * sc.stature, 0])
    # The object changes hands a little off-centre, on the giver's hand side.
    side_sign = 1.0 if hand == LEFT else -1.0
    m = m + (side_sign if giver == 0 else -side_sign) * 0.08 * left
    reach, delay, dwell = sc.s(rng.uniform(0.6, 0.9)), sc.s(rng.uniform(0.1, 0.3)), sc.s(rng.uniform(0.4, 0.7))
    meet = t + reach + delay
    sign = -1.0 if giver == 0 else 1.0
    moves.reach(sc, giver, hand, t, t + reach, meet + dwell, meet + dwell + sc.s(0.6), m + sign * 0.04 * d)
    moves.lean(sc, giver, t, t + reach, meet + dwell, meet + dwell + sc.s(0.6), flex=0.1)
    moves.lean(sc, 1 - giver, t + delay, meet, meet + dwell, meet + dwell + sc.s(0.5), flex=0.08)
    # The receiver takes it and brings it close to the chest.
    q = 1 - giver
    moves.reach(sc, q, recv_hand, t + delay, meet, meet + dwell + sc.s(0.1), meet + dwell + sc.s(0.5),
                m - sign * 0.04 * d)
    moves.gesture(sc, q, recv_hand, meet + dwell + sc.s(0.1), meet + dwell + sc.s(0.6), meet + dwell + sc.s(1.4),
                  meet + dwell + sc.s(2.0), np.array([-0.15, -0.55, 0.45]))
    end = meet + dwell + sc.s(2.0) + sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": giver, "side": SIDES[hand], "limb": "hand", "count": None,
                                  "contact": True, "receiver_side": SIDES[recv_hand]}, "words": {}}


def pat_shoulder(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    actor = int(rng.integers(2))
    hand = _side(rng, 0.7)
    # Natural: my right hand lands on the partner's left shoulder (it is in front of it).
    shoulder = 1 - hand if rng.random() < 0.8 else hand
    q = 1 - actor
    count = int(rng.integers(1, 4))
    reach = sc.s(rng.uniform(0.6, 0.9))
    n = len(sc.tracks[0].xz)
    sh = sc.landmark(q, 16 if shoulder == LEFT else 17)
    toward = sc.xz(q, t) - sc.xz(actor, t)
    toward = np.array([toward[0], 0, toward[1]]) / max(np.linalg.norm(toward), 1e-6)
    target = sh + np.array([0, 0.075 * sc.bodies[q].scale, 0]) - 0.05 * toward
    a = t + reach
    period = sc.s(0.5)
    tt = np.arange(n)
    ph = np.clip((tt - a) / period, 0, count)
    pats = 0.06 * np.where((tt >= a) & (tt < a + count * period), np.sin(np.pi * (ph % 1.0)), 0.0)
    target = target + pats[:, None] * np.array([0, 1.0, 0])
    hold = a + count * period + sc.s(0.2)
    moves.reach(sc, actor, hand, t, a, hold, hold + sc.s(0.6), target, moves.FRONT_POLE)
    moves.lean(sc, actor, t, a, hold, hold + sc.s(0.6), flex=0.1 if shoulder != hand else 0.16,
               twist=(0.25 if hand == RIGHT else -0.25) if shoulder == hand else 0.0)
    end = hold + sc.s(0.6) + sc.s(rng.uniform(0.3, 0.7))
    return {"end": end, "label": {"actor": actor, "side": SIDES[hand], "limb": "hand", "count": count,
                                  "contact": True, "target_side": SIDES[shoulder]}, "words": {}}


def pull(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    actor = int(rng.integers(2))
    q = 1 - actor
    hand = _side(rng, 0.7)
    mid, d, left = _axes(sc, t)
    reach = sc.s(rng.uniform(0.5, 0.8))
    grab = t + reach
    pull_t = sc.s(rng.uniform(0.9, 1.4))
    dist = rng.uniform(0.4, 0.8) * sc.stature / 1.7
    toward_q = sc.xz(q, t) - sc.xz(actor, t)
    toward_q /= max(np.linalg.norm(toward_q), 1e-6)
    start_pull = grab + sc.s(0.2)
    # The actor steps back while the partner stumbles forward after a short latency; hands stay joined.
    sc.move(actor, start_pull, pull_t, xz=sc.xz(actor, t) - toward_q * dist * 0.6)
    sc.move(q, start_pull + sc.s(0.15), pull_t, xz=sc.xz(q, t) - toward_q * dist)
    n = len(sc.tracks[0].xz)
    pa = sc.tracks[actor].xz
    pq = sc.tracks[q].xz
    mids = np.zeros((n, 3))
    mids[:, [0, 2]] = 0.5 * (pa + pq)
    mids[:, 1] = rng.uniform(0.55, 0.6) * sc.stature
    # Joined hands: actor's hand and partner's opposite hand (they face each other).
    lat = (1.0 if hand == LEFT else -1.0) * 0.12 * (1 if actor == 0 else -1)
    m = mids + lat * left
    sgn = -1.0 if actor == 0 else 1.0
    release = start_pull + pull_t + sc.s(0.3)
    moves.reach(sc, actor, hand, t, grab, release, release + sc.s(0.6), m + sgn * 0.035 * d)
    moves.reach(sc, q, 1 - hand, t + sc.s(0.15), grab, release, release + sc.s(0.6), m - sgn * 0.035 * d)
    moves.lean(sc, actor, grab, start_pull + sc.s(0.3), release, release + sc.s(0.5), flex=-0.12)
    moves.lean(sc, q, start_pull, start_pull + sc.s(0.3), release, release + sc.s(0.5), flex=0.18)
    end = release + sc.s(0.6) + sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": actor, "side": SIDES[hand], "limb": "hand", "count": None,
                                  "contact": True}, "words": {}}


def dance(sc: Scene, t0: int, rng) -> dict:
    t = _start(sc, t0, rng)
    direction = 1.0 if rng.random() < 0.5 else -1.0  # +: counterclockwise seen from above
    join = sc.s(0.6)
    spin_t = sc.s(rng.uniform(2.5, 4.5))
    revs = rng.uniform(0.3, 0.55) * spin_t / sc.fps
    revs = min(revs, 2.0)
    a = t + join
    c0 = 0.5 * (sc.xz(0, t) + sc.xz(1, t))
    r = 0.5 * sc.distance(t)
    phi0 = [np.arctan2(*(sc.xz(p, t) - c0)) for p in (0, 1)]
    n = len(sc.tracks[0].xz)
    u = np.linspace(0, 1, spin_t)
    ang = direction * 2 * np.pi * revs * (u ** 2 * (3 - 2 * u))
    for p in (0, 1):
        phi = phi0[p] + ang
        xz = c0 + r * np.stack([np.sin(phi), np.cos(phi)], -1)
        face = phi + np.pi  # face the centre (and so the partner)
        tr = sc.tracks[p]
        hold_from(tr.xz, a, xz)
        hold_from(tr.heading, a, np.unwrap(np.concatenate([[sc.heading(p, a - 1)], face]))[1:])
        tr.loco.append(Locomotion(a, a + spin_t, "walk", int(rng.integers(2))))
    pa, pb = sc.tracks[0].xz, sc.tracks[1].xz
    mids = np.zeros((n, 3))
    mids[:, [0, 2]] = 0.5 * (pa + pb)
    mids[:, 1] = rng.uniform(0.52, 0.58) * sc.stature
    dd = np.zeros((n, 3))
    dd[:, [0, 2]] = pb - pa
    dd /= np.maximum(np.linalg.norm(dd, axis=1, keepdims=True), 1e-6)
    left0 = np.stack([dd[:, 2], np.zeros(n), -dd[:, 0]], -1)
    release = a + spin_t + sc.s(0.3)
    for hand in (LEFT, RIGHT):
        lat = (1.0 if hand == LEFT else -1.0) * 0.2 * sc.stature / 1.7
        m = mids + lat * left0  # person 0's left hand holds person 1's right hand
        moves.reach(sc, 0, hand, t, a, release, release + sc.s(0.6), m - 0.035 * dd)
        moves.reach(sc, 1, 1 - hand, t, a, release, release + sc.s(0.6), m + 0.035 * dd)
    end = release + sc.s(0.6) + sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": "both", "side": None, "limb": "hand", "count": None, "contact": True,
                                  "direction": "counterclockwise" if direction > 0 else "clockwise"},
            "words": {}}
