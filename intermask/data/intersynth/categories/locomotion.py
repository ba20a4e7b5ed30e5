"""Moving interactions: approach, walk away, pass by, follow or chase, circle around each other."""
from __future__ import annotations

import numpy as np

from intermask.data.intersynth.scene import Scene, wrap
from intermask.data.intersynth.timing import hold_from, minjerk
from intermask.data.intersynth.track import Locomotion

SPEEDS = {"slow": (0.7, 0.95), "normal": (1.05, 1.4), "fast": (1.5, 1.8)}


def _speed(rng) -> tuple[str, float]:
    name = rng.choice(["slow", "normal", "fast"], p=[0.25, 0.5, 0.25])
    return str(name), float(rng.uniform(*SPEEDS[name]))


def _heading_of(v: np.ndarray) -> float:
    return float(np.arctan2(v[0], v[1]))


def approach(sc: Scene, t0: int, rng, stop_distance: float | None = None, actor=None) -> dict:
    """Walk toward each other (or one toward the other) and stop at conversation distance."""
    if actor is None:
        actor = "both" if rng.random() < 0.55 else int(rng.integers(2))
    speed_name, v = _speed(rng)
    stop = stop_distance if stop_distance is not None else rng.uniform(0.5, 0.65) * sc.stature
    t = t0 + sc.s(rng.uniform(0.2, 0.5))
    gap = sc.distance(t) - stop
    movers = (0, 1) if actor == "both" else (actor,)
    share = gap / len(movers)
    end = t
    for i, p in enumerate(movers):
        d = sc.toward(p, t)
        start = t + (sc.s(rng.uniform(0.0, 0.4)) if i else 0)
        frames = sc.walk_time(share, v)
        end = max(end, sc.move(p, start, frames, xz=sc.xz(p, t) + d * share, heading=_heading_of(d)))
    end += sc.s(rng.uniform(0.2, 0.6))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": None, "count": None, "contact": False,
                                  "speed": speed_name}, "words": {}}


def walk_away(sc: Scene, t0: int, rng, actor=None) -> dict:
    """Turn around and walk away from the other (one person or both, in opposite directions)."""
    if actor is None:
        actor = "both" if rng.random() < 0.5 else int(rng.integers(2))
    speed_name, v = _speed(rng)
    t = t0 + sc.s(rng.uniform(0.3, 0.7))
    movers = (0, 1) if actor == "both" else (actor,)
    end = t
    for i, p in enumerate(movers):
        away = -sc.toward(p, t)
        # Curve a little to one side instead of a perfectly straight retreat.
        dev = rng.uniform(-0.5, 0.5)
        c, s_ = np.cos(dev), np.sin(dev)
        away = np.array([c * away[0] + s_ * away[1], -s_ * away[0] + c * away[1]])
        dist = rng.uniform(1.5, 3.5)
        start = t + (sc.s(rng.uniform(0.0, 0.5)) if i else 0)
        turned = sc.face(p, start, _heading_of(away), seconds=rng.uniform(0.7, 1.0))
        frames = sc.walk_time(dist, v)
        end = max(end, sc.move(p, turned, frames, xz=sc.xz(p, start) + away * dist))
        sc.tracks[p].look_w[start:] *= 0.2
    end += sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": None, "count": None, "contact": False,
                                  "speed": speed_name}, "words": {}}


def pass_by(sc: Scene, t0: int, rng) -> dict:
    """Walk toward each other and pass, keeping the other on the left or on the right."""
    side = "left" if rng.random() < 0.5 else "right"
    speed_name, v = _speed(rng)
    t = t0 + sc.s(rng.uniform(0.2, 0.5))
    offset = rng.uniform(0.3, 0.45) * sc.stature / 1.7
    dist = sc.distance(t)
    travel = dist + rng.uniform(1.0, 2.0)
    frames = sc.walk_time(travel, v)
    end = t
    for p in (0, 1):
        d = sc.toward(p, t)
        left = np.array([d[1], -d[0]])
        # Passing on the left: each steps to its right, so the other goes by on its left.
        shift = (-offset if side == "left" else offset) * left
        start = t + (sc.s(rng.uniform(0.0, 0.3)) if p else 0)
        x0 = sc.xz(p, t)
        n = len(sc.tracks[p].xz)
        u = minjerk(np.linspace(0, 1, frames))
        lat = minjerk(np.clip(np.linspace(0, 1, frames) * 2.5, 0, 1))
        path = x0 + np.outer(u * travel, d) + np.outer(lat, shift)
        hold_from(sc.tracks[p].xz, start, path)
        sc.tracks[p].heading[start:] = _heading_of(d)
        sc.tracks[p].loco.append(Locomotion(start, start + frames, "walk", int(rng.integers(2))))
        sc.tracks[p].look_w[start + frames // 2:] *= 0.1
        end = max(end, start + frames)
    end += sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": "both", "side": side, "limb": None, "count": None, "contact": False,
                                  "speed": speed_name}, "words": {}}


def follow(sc: Scene, t0: int, rng) -> dict:
    """One person walks (or runs) a curving path; the other follows 1–3 m behind, copying the turns."""
    run = rng.random() < 0.4
    leader = int(rng.integers(2))
    actor = 1 - leader
    v = rng.uniform(2.5, 3.5) if run else rng.uniform(1.0, 1.5)
    t = t0 + sc.s(rng.uniform(0.2, 0.4))
    secs = rng.uniform(3.5, 6.0) if not run else rng.uniform(3.0, 4.5)
    frames = sc.s(secs)
    lag = sc.s(rng.uniform(0.8, 1.6) / v * 1.5)
    # The leader's path, started from the follower's position so the follower can retrace it exactly.
    heading0 = _heading_of(sc.xz(leader, t) - sc.xz(actor, t))
    total = frames + lag
    tt = np.arange(total) / sc.fps
    ramp_ = minjerk(np.clip(tt / 1.0, 0, 1)) * (1 - minjerk(np.clip((tt - (total / sc.fps - 1.0)) / 1.0, 0, 1)))
    curv = rng.uniform(-0.5, 0.5) * np.sin(2 * np.pi * rng.uniform(0.05, 0.15) * tt + rng.uniform(0, 6.28))
    heading = heading0 + np.cumsum(curv * ramp_) / sc.fps
    speed = v * ramp_
    step = np.stack([np.sin(heading), np.cos(heading)], -1) * speed[:, None] / sc.fps
    path = sc.xz(actor, t) + np.concatenate([[[0.0, 0.0]], np.cumsum(step, axis=0)[:-1]])
    # Leader starts `lag` frames ahead along the path; place it there from frame 0.
    sc.tracks[leader].xz[:] = path[lag]
    sc.tracks[leader].heading[:] = heading[lag]
    style = "run" if run else "walk"
    for p, offs in ((leader, lag), (actor, 0)):
        tr = sc.tracks[p]
        seg = path[offs:offs + frames]
        hold_from(tr.xz, t, seg)
        hold_from(tr.heading, t, heading[offs:offs + frames])
        tr.loco.append(Locomotion(t, t + frames, style, int(rng.integers(2))))
    sc.tracks[leader].look_w[:] = 0.0
    end = t + frames + sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": None, "count": None, "contact": False,
                                  "speed": "fast" if run else "normal", "style": "chase" if run else "follow"},
            "words": {}}


def circle(sc: Scene, t0: int, rng) -> dict:
    """Circle around each other facing the partner (both), or one circles while the other turns to watch."""
    actor = "both" if rng.random() < 0.6 else int(rng.integers(2))
    direction = 1.0 if rng.random() < 0.5 else -1.0  # +: counterclockwise seen from above
    t = t0 + sc.s(rng.uniform(0.3, 0.6))
    secs = rng.uniform(3.0, 6.0)
    frames = sc.s(secs)
    sweep = direction * rng.uniform(0.6, 1.4) * np.pi * (1.0 if actor == "both" else 1.5)
    u = minjerk(np.linspace(0, 1, frames))
    if actor == "both":
        c = 0.5 * (sc.xz(0, t) + sc.xz(1, t))
        movers = (0, 1)
    else:
        c = sc.xz(1 - actor, t)
        movers = (actor,)
    for p in movers:
        rvec = sc.xz(p, t) - c
        r = np.linalg.norm(rvec)
        phi = np.arctan2(rvec[0], rvec[1]) + sweep * u
        xz = c + r * np.stack([np.sin(phi), np.cos(phi)], -1)
        face = phi + np.pi
        tr = sc.tracks[p]
        hold_from(tr.xz, t, xz)
        h0 = sc.heading(p, t)
        hold_from(tr.heading, t, h0 + np.unwrap(wrap(face - h0)))
        tr.loco.append(Locomotion(t, t + frames, "walk", int(rng.integers(2))))
    if actor != "both":
        q = 1 - actor
        face_q = np.arctan2(*(sc.tracks[actor].xz[t:t + frames] - c).T)
        h0 = sc.heading(q, t)
        hold_from(sc.tracks[q].heading, t, h0 + np.unwrap(wrap(face_q - h0)))
        sc.tracks[q].loco.append(Locomotion(t, t + frames, "shuffle", int(rng.integers(2))))
    end = t + frames + sc.s(rng.uniform(0.2, 0.5))
    return {"end": end, "label": {"actor": actor, "side": None, "limb": None, "count": None, "contact": False,
                                  "direction": "counterclockwise" if direction > 0 else "clockwise"},
            "words": {}}
