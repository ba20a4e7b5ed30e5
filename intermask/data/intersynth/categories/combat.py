"""Fighting interactions: push, punch, kick, each with the partner's reaction."""
from __future__ import annotations

import numpy as np

from intermask.data.intersynth import moves
from intermask.data.intersynth.scene import Scene
from intermask.data.intersynth.timing import minjerk
from intermask.data.intersynth.track import LEFT, RIGHT

SIDES = ("left", "right")
GUARD = np.array([-0.1, -0.25, 0.5])


def _dir(sc: Scene, p: int, t: int) -> np.ndarray:
    return sc.toward(p, t)


def push(sc: Scene, t0: int, rng) -> dict:
    actor = int(rng.integers(2))
    q = 1 - actor
    both = rng.random() < 0.55
    hand = RIGHT if rng.random() < 0.65 else LEFT
    t = t0 + sc.s(rng.uniform(0.3, 0.7))
    reach = sc.s(rng.uniform(0.35, 0.55))
    contact = t + reach
    latency = sc.s(rng.uniform(0.1, 0.2))
    d = _dir(sc, actor, t)
    steps_back = rng.uniform(0.5, 1.1) * sc.stature / 1.7
    back_t = sc.s(rng.uniform(0.8, 1.3))
    sc.move(q, contact + latency, back_t, xz=sc.xz(q, t) + d * steps_back)
    moves.lean(sc, q, contact, contact + sc.s(0.25), contact + back_t - sc.s(0.3), contact + back_t + sc.s(0.3),
               flex=-0.2)
    for h in (LEFT, RIGHT):  # arms flail a little
        moves.gesture(sc, q, h, contact, contact + sc.s(0.3), contact + back_t - sc.s(0.2), contact + back_t + sc.s(0.3),
                      np.array([0.45, -0.55, 0.2]))
    chest = sc.landmark(q, 9)
    hq = sc.tracks[q].heading
    fwd_q = np.stack([np.sin(hq), np.zeros_like(hq), np.cos(hq)], -1)
    left_q = np.stack([np.cos(hq), np.zeros_like(hq), -np.sin(hq)], -1)
    hands = (LEFT, RIGHT) if both else (hand,)
    follow = contact + latency + sc.s(0.25)
    for h in hands:
        # My left hand lands on the partner's right chest (their −left) and vice versa.
        lat = (-1.0 if h == LEFT else 1.0) * (0.1 if both else 0.05) * sc.bodies[q].scale
        target = chest + 0.13 * sc.bodies[q].scale * fwd_q + lat * left_q
        moves.reach(sc, actor, h, t, contact, follow, follow + sc.s(0.5), target)
    moves.lean(sc, actor, t, contact, follow, follow + sc.s(0.5), flex=0.15)
    end = max(follow + sc.s(0.5), contact + back_t + sc.s(0.3)) + sc.s(rng.uniform(0.3, 0.7))
    return {"end": end, "label": {"actor": actor, "side": None if both else SIDES[hand], "limb": "hand",
                                  "count": None, "contact": True, "hands": 2 if both else 1,
                                  "partner_reaction": "stumble"}, "words": {}}


def punch(sc: Scene, t0: int, rng) -> dict:
    actor = int(rng.integers(2))
    q = 1 - actor
    hand = RIGHT if rng.random() < 0.6 else LEFT
    count = 1 if rng.random() < 0.7 else 2
    reaction = "dodge" if rng.random() < 0.5 else "block"
    t = t0 + sc.s(rng.uniform(0.2, 0.5))
    guard_in = sc.s(0.4)
    for h in (LEFT, RIGHT):
        moves.gesture(sc, actor, h, t, t + guard_in, t + guard_in + sc.s(0.6 + 0.6 * count),
                      t + guard_in + sc.s(1.0 + 0.6 * count), GUARD, np.array([0.6, -1.0, -0.2]))
    head = sc.landmark(q, 15)
    d = _dir(sc, actor, t)
    d3 = np.array([d[0], 0, d[1]])
    target = head - 0.22 * d3 - np.array([0, 0.08, 0])
    sign_twist = -1.0 if hand == RIGHT else 1.0
    strike = t + guard_in + sc.s(0.15)
    for k in range(count):
        ext = sc.s(rng.uniform(0.15, 0.25))
        a, b = strike, strike + ext
        moves.reach(sc, actor, hand, a, b, b + sc.s(0.1), b + sc.s(0.35), target, np.array([1.0, -0.5, -0.3]))
        moves.lean(sc, actor, a, b, b + sc.s(0.1), b + sc.s(0.35), flex=0.1, twist=0.3 * sign_twist)
        r0 = a + sc.s(rng.uniform(0.1, 0.2))
        if reaction == "dodge":
            side = rng.choice([-1.0, 1.0])
            moves.lean(sc, q, r0, r0 + sc.s(0.25), r0 + sc.s(0.45), r0 + sc.s(0.8), flex=-0.25, side=0.3 * side)
        else:
            bh = LEFT if hand == RIGHT else RIGHT  # block on the side the punch comes from
            moves.gesture(sc, q, bh, r0 - sc.s(0.1), r0 + sc.s(0.15), r0 + sc.s(0.45), r0 + sc.s(0.8),
                          np.array([-0.15, 0.1, 0.45]), np.array([1.0, -0.8, 0.0]))
            moves.lean(sc, q, r0, r0 + sc.s(0.2), r0 + sc.s(0.45), r0 + sc.s(0.8), flex=-0.1)
        strike = b + sc.s(0.55)
    end = strike + sc.s(0.6) + sc.s(rng.uniform(0.2, 0.6))
    return {"end": end, "label": {"actor": actor, "side": SIDES[hand], "limb": "hand", "count": count,
                                  "contact": False, "partner_reaction": reaction}, "words": {}}


def kick(sc: Scene, t0: int, rng) -> dict:
    actor = int(rng.integers(2))
    q = 1 - actor
    leg = RIGHT if rng.random() < 0.6 else LEFT
    t = t0 + sc.s(rng.uniform(0.3, 0.6))
    b = sc.bodies[actor]
    d = _dir(sc, actor, t)
    d3 = np.array([d[0], 0, d[1]])
    xz = sc.xz(actor, t)
    lat = (1.0 if leg == LEFT else -1.0) * 0.09 * b.scale * np.array([d3[2], 0, -d3[0]])
    base = np.array([xz[0], 0, xz[1]]) + lat
    height = rng.uniform(0.35, 0.6) * b.leg_length + b.ankle_height
    chamber = base + 0.25 * b.leg_length * d3 + np.array([0, 0.5 * height, 0])
    strike = base + rng.uniform(0.75, 0.85) * b.leg_length * d3 + np.array([0, height, 0])
    n = len(sc.tracks[0].xz)
    up, ext, back, down = sc.s(0.3), sc.s(0.2), sc.s(0.25), sc.s(0.35)
    tt = np.arange(n)
    u1 = np.clip((tt - t) / up, 0, 1)
    u2 = np.clip((tt - t - up) / ext, 0, 1)
    path = chamber + (strike - chamber) * minjerk(u2)[:, None]
    path = np.where((tt < t + up)[:, None], chamber, path)
    u3 = np.clip((tt - t - up - ext - sc.s(0.1)) / back, 0, 1)
    path = path + (chamber - strike) * minjerk(u3)[:, None]
    tr = sc.tracks[actor]
    w = moves.env(sc, t, t + up, t + up + ext + sc.s(0.1) + back, t + up + ext + sc.s(0.1) + back + down)
    tr.foot_world[:, leg] = np.where(w[:, None] > 0, path, tr.foot_world[:, leg])
    tr.foot_w[:, leg] = w
    tr.foot_pitch[:, leg] += -0.4 * moves.env(sc, t + up, t + up + ext, t + up + ext + sc.s(0.1), t + up + ext + back)
    moves.lean(sc, actor, t, t + up, t + up + ext + back, t + up + ext + back + down, flex=-0.2)
    for h in (LEFT, RIGHT):
        moves.gesture(sc, actor, h, t, t + up, t + up + ext + back, t + up + ext + back + down,
                      np.array([0.3, -0.45, 0.3]))
    # The partner jumps back just out of reach.
    r0 = t + up - sc.s(rng.uniform(0.0, 0.1))
    land = moves.hop(sc, q, r0, 0.12 * sc.bodies[q].scale, 0.06 * sc.bodies[q].scale, air=0.35)
    sc.move(q, r0 + sc.s(0.35), sc.s(0.35), xz=sc.xz(q, t) + d * rng.uniform(0.3, 0.5), style="jump")
    moves.lean(sc, q, r0, r0 + sc.s(0.3), r0 + sc.s(0.6), land + sc.s(0.3), flex=0.2)
    for h in (LEFT, RIGHT):
        moves.gesture(sc, q, h, r0, r0 + sc.s(0.3), r0 + sc.s(0.6), land + sc.s(0.3), np.array([0.3, -0.5, 0.35]))
    end = max(t + up + ext + back + down + sc.s(0.1), land + sc.s(0.3)) + sc.s(rng.uniform(0.3, 0.7))
    return {"end": end, "label": {"actor": actor, "side": SIDES[leg], "limb": "leg", "count": None,
                                  "contact": False, "partner_reaction": "jump_back"}, "words": {}}
