"""Footstep planning on a root path: planted feet in stance, minimum-jerk swings, pelvis bob and sway.

Steps are timed by the *progress* along the path (distance walked plus a cost per radian turned) rather
than by the clock, so a foot never slides: whatever the speed profile, a foot moves only inside its swing
window and otherwise stays on its footprint. Starting and stopping steps are half steps, as in people.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from intermask.data.intersynth.body import Body, forward, leftward
from intermask.data.intersynth.timing import bump, minjerk
from intermask.data.intersynth.track import LEFT, RIGHT, Locomotion, Track

TURN_COST = 0.35  # metres of progress per radian turned: ~2 short steps for a 90° turn on the spot
TOE_OUT = 0.08  # rad


@dataclass
class Feet:
    ankle: np.ndarray  # (n, 2, 3) world ankle targets
    yaw: np.ndarray  # (n, 2)
    pitch: np.ndarray  # (n, 2) + toe down
    stance: np.ndarray  # (n, 2) bool
    bob: np.ndarray  # (n,) pelvis height change
    sway: np.ndarray  # (n, 2) pelvis xz offset toward the stance foot
    pelvis_yaw: np.ndarray  # (n,)
    foot_fwd: np.ndarray  # (n, 2) each foot's forward offset from the pelvis (m), drives arm swing
    running: np.ndarray  # (n,) 0..1 weight of running posture


def _footprint(body: Body, xz: np.ndarray, heading: float, side: int) -> tuple[np.ndarray, float]:
    sign = 1.0 if side == LEFT else -1.0
    half = 0.085 * body.scale
    p = np.asarray(xz, dtype=np.float64) + sign * half * leftward(heading)[[0, 2]]
    return p, heading + sign * TOE_OUT


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def plan(body: Body, track: Track, fps: int) -> Feet:
    n = track.n
    s = body.scale
    ank_h = body.ankle_height
    pos = np.zeros((n, 2, 2))
    yaw = np.zeros((n, 2))
    pitch = np.zeros((n, 2))
    lift = np.zeros((n, 2))
    stance = np.ones((n, 2), dtype=bool)
    bob = np.zeros(n)
    sway = np.zeros((n, 2))
    running = np.zeros(n)
    cur = [_footprint(body, track.xz[0], track.heading[0], f) for f in (LEFT, RIGHT)]
    last = 0
    for seg in sorted(track.loco, key=lambda l: l.start):
        a, b = max(seg.start, last), min(seg.end, n)
        for f in (LEFT, RIGHT):
            pos[last:a, f], yaw[last:a, f] = cur[f]
        if b - a < 2:
            continue
        cur = _segment(body, track, seg, a, b, cur, pos, yaw, pitch, lift, stance, bob, sway, running, fps)
        last = b
    for f in (LEFT, RIGHT):
        pos[last:, f], yaw[last:, f] = cur[f]

    ankle = np.zeros((n, 2, 3))
    ankle[..., 0] = pos[..., 0]
    ankle[..., 2] = pos[..., 1]
    # Keep the toe joint above the floor while the foot pitches toe-down at push-off.
    foot = body.offsets[10]
    toe_drop = -(foot[1] * np.cos(pitch) - foot[2] * np.sin(pitch))
    ankle[..., 1] = np.maximum(ank_h + lift, toe_drop)

    fwd = forward(track.heading)[:, [0, 2]]
    rel = pos - (track.xz + sway)[:, None, :]
    foot_fwd = np.einsum("nfk,nk->nf", rel, fwd)
    # Pelvis turns with the leading leg (left foot ahead → pelvis rotated to the right).
    pelvis_yaw = -0.12 * np.tanh((foot_fwd[:, LEFT] - foot_fwd[:, RIGHT]) / (0.5 * s))
    return Feet(ankle, yaw, pitch, stance, bob, sway, pelvis_yaw, foot_fwd, running)


def _segment(body, track, seg: Locomotion, a, b, cur, pos, yaw, pitch, lift, stance, bob, sway, running, fps):
    s = body.scale
    xz = track.xz[a:b]
    hd = np.unwrap(track.heading[a:b])
    step_q = np.linalg.norm(np.diff(xz, axis=0), axis=1) + TURN_COST * np.abs(np.diff(hd))
    q = np.concatenate([[0.0], np.cumsum(step_q)])
    total = q[-1]
    if total < 0.03 * s and seg.style != "jump":
        for f in (LEFT, RIGHT):
            pos[a:b, f], yaw[a:b, f] = cur[f]
        return cur
    if seg.style == "jump":
        # Both feet leave together (height comes from Track.feet_dy) and land on the path's end state.
        u = minjerk(np.linspace(0.0, 1.0, b - a))
        for f in (LEFT, RIGHT):
            target = _footprint(body, xz[-1], hd[-1], f)
            p0, y0 = cur[f]
            pos[a:b, f] = p0 + (target[0] - p0) * u[:, None]
            yaw[a:b, f] = y0 + _wrap(target[1] - y0) * u
            stance[a:b, f] = False
            cur[f] = target
        return cur
    run = seg.style == "run"
    dist = np.linalg.norm(xz[-1] - xz[0])
    speed = dist / max((b - a) / fps, 1e-3)
    if seg.style == "shuffle" or dist < 0.4 * s:
        nominal = 0.28 * s
    elif run:
        nominal = 0.5 * s * np.clip(speed / 3.0, 0.8, 1.3)
    else:
        nominal = 0.41 * s * np.clip(speed / 1.3, 0.6, 1.25) ** 0.5
    nsteps = max(1, int(np.ceil(total / nominal - 0.15)))
    lq = total / nsteps
    ds = -0.3 if run else 0.2
    qq = q + 1e-9 * np.arange(len(q))  # strictly increasing for interpolation
    foot = [seg.first_foot, 1 - seg.first_foot]
    for f in (LEFT, RIGHT):
        pos[a:b, f], yaw[a:b, f] = cur[f]
    for k in range(1, nsteps + 2):
        f = foot[(k - 1) % 2]
        qk = min(k * lq, total)
        hk = float(np.interp(qk, qq, hd))
        pk = np.array([np.interp(qk, qq, xz[:, 0]), np.interp(qk, qq, xz[:, 1])])
        target = _footprint(body, pk, hk, f)
        lo, hi = max((k - 1.5 + ds) * lq, 0.0), min((k - 0.5) * lq, total)
        if k == nsteps + 1:
            lo, hi = max((k - 1.5 + ds) * lq, 0.0), total
        if hi - lo < 1e-6:
            lo = max(hi - 0.3 * lq, 0.0)
        u = np.clip((q - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
        active = (q > lo) & (q < hi)
        m = minjerk(u)
        p0, y0 = cur[f]
        frames = np.nonzero(u > 0)[0]
        step_len = np.linalg.norm(target[0] - p0)
        scale_h = np.clip(step_len / (0.5 * s), 0.3, 1.0)
        h = (0.22 if run else 0.085) * s * scale_h
        sl = slice(a + frames[0], b) if len(frames) else slice(b, b)
        pos[sl, f] = p0 + (target[0] - p0) * m[frames, None]
        yaw[sl, f] = y0 + _wrap(target[1] - y0) * m[frames]
        lift[sl, f] = h * bump(u[frames])
        p_off = (0.55 if run else 0.45) * scale_h * bump(np.clip(u[frames] / 0.55, 0, 1))
        p_on = (0.1 if run else 0.3) * scale_h * bump(np.clip((u[frames] - 0.55) / 0.45, 0, 1))
        pitch[sl, f] = p_off - p_on
        stance[a:b, f] &= ~active
        cur[f] = target
    # Pelvis: highest over the stance foot when walking, lowest there when running; sway toward it.
    edge = np.clip(np.minimum(q, total - q) / (0.6 * lq), 0.0, 1.0)
    env = minjerk(edge)
    phase = q / lq
    if run:
        bob[a:b] = env * (0.035 * s * (-np.cos(2 * np.pi * phase)) - 0.05 * s)
        running[a:b] = env
    else:
        bob[a:b] = env * 0.022 * s * (np.cos(2 * np.pi * phase) - 1.0)
    sign_first = 1.0 if seg.first_foot == LEFT else -1.0
    lat = env * (0.015 if run else 0.03) * s * sign_first * np.cos(np.pi * (phase - 1.0))
    sway[a:b] = lat[:, None] * leftward(hd)[:, [0, 2]]
    return cur
