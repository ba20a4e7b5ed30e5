"""A two-person scene under construction: bodies, tracks and the moves that write into them.

Builders write on a fixed-length timeline and *hold* positions after the frame where a move ends, so that
moves can be chained (approach → interaction → walk away) by passing the end frame of one as the start of
the next. :func:`Scene.render` plans steps, solves both skeletons and crops to the used length.
"""
from __future__ import annotations

import numpy as np

from intermask.data.intersynth import gait, rig
from intermask.data.intersynth.body import Body, forward, leftward, sample_body
from intermask.data.intersynth.timing import hold_from, minjerk
from intermask.data.intersynth.track import LEFT, RIGHT, Locomotion, Track
from intermask.motion.features import FPS

MAX_FRAMES = 300
_BUFFER = 420


def wrap(a):
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


class Scene:
    def __init__(self, rng: np.random.Generator, fps: int = FPS):
        self.rng = rng
        self.fps = fps
        self.bodies: list[Body] = [sample_body(rng), sample_body(rng)]
        self.tracks = [Track(_BUFFER), Track(_BUFFER)]
        self.segments: list[dict] = []

    # ---- geometry at a frame -------------------------------------------------------------------
    def xz(self, p: int, t: int) -> np.ndarray:
        return self.tracks[p].xz[min(t, _BUFFER - 1)].copy()

    def heading(self, p: int, t: int) -> float:
        return float(self.tracks[p].heading[min(t, _BUFFER - 1)])

    def toward(self, p: int, t: int) -> np.ndarray:
        """Unit xz vector from person p to the other person at frame t."""
        d = self.xz(1 - p, t) - self.xz(p, t)
        return d / max(np.linalg.norm(d), 1e-6)

    def distance(self, t: int) -> float:
        return float(np.linalg.norm(self.xz(1, t) - self.xz(0, t)))

    def pelvis_y(self, p: int) -> float:
        return 0.985 * self.bodies[p].pelvis_height

    def landmark(self, p: int, joint: int, t0: int = 0, t1: int = _BUFFER) -> np.ndarray:
        """Nominal world positions (t1 − t0, 3) of a joint of person p (upright, from the track)."""
        tr = self.tracks[p]
        y = self.pelvis_y(p) + tr.pelvis_dy[t0:t1]
        return self.bodies[p].landmark(joint, tr.xz[t0:t1], tr.heading[t0:t1], y)

    def s(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))

    @property
    def stature(self) -> float:
        return 0.5 * (self.bodies[0].stature + self.bodies[1].stature)

    # ---- placement and locomotion ----------------------------------------------------------------
    def place_facing(self, distance: float, center=None, angle: float | None = None) -> None:
        """Put the two persons ``distance`` apart, facing each other, around ``center`` at a random angle."""
        angle = self.rng.uniform(-np.pi, np.pi) if angle is None else angle
        center = self.rng.uniform(-1.0, 1.0, size=2) if center is None else np.asarray(center, float)
        d = np.array([np.sin(angle), np.cos(angle)])
        self.tracks[0].place(center - d * distance / 2, angle)
        self.tracks[1].place(center + d * distance / 2, angle + np.pi)

    def move(self, p: int, t0: int, frames: int, xz=None, heading: float | None = None,
             style: str = "walk", first_foot: int | None = None, steps: bool = True,
             profile: np.ndarray | None = None) -> int:
        """Move person p from its state at t0 to (xz, heading) over ``frames`` with a minimum-jerk profile."""
        tr = self.tracks[p]
        frames = max(2, int(frames))
        x0, h0 = self.xz(p, t0), self.heading(p, t0)
        x1 = x0 if xz is None else np.asarray(xz, dtype=np.float64)
        h1 = h0 if heading is None else h0 + float(wrap(heading - h0))
        u = minjerk(np.linspace(0, 1, frames)) if profile is None else profile
        hold_from(tr.xz, t0, x0 + (x1 - x0) * u[:, None])
        hold_from(tr.heading, t0, h0 + (h1 - h0) * u)
        if steps:
            if first_foot is None:
                first_foot = int(self.rng.integers(2))
            tr.loco.append(Locomotion(t0, t0 + frames, style, first_foot))
        return t0 + frames

    def walk_time(self, dist: float, speed: float) -> int:
        """Frames for a start-stop walk of ``dist`` metres at a cruising ``speed`` (min-jerk peak 1.875×mean)."""
        return self.s(max(dist / speed * 1.5, 0.6))

    def face(self, p: int, t0: int, target_heading: float, seconds: float = 0.8) -> int:
        if abs(wrap(target_heading - self.heading(p, t0))) < 0.15:
            return t0
        return self.move(p, t0, self.s(seconds), heading=target_heading, style="shuffle")

    def face_partner(self, p: int, t0: int, seconds: float = 0.8) -> int:
        d = self.toward(p, t0)
        return self.face(p, t0, float(np.arctan2(d[0], d[1])), seconds)

    def look_at_partner(self, p: int, t0: int = 0, t1: int = _BUFFER, weight: float = 0.8) -> None:
        tr = self.tracks[p]
        tr.look_at[t0:t1] = self.landmark(1 - p, 15, t0, t1)
        tr.look_w[t0:t1] = weight

    def segment(self, category: str, start: int, end: int) -> None:
        self.segments.append({"category": category, "start_frame": int(start), "end_frame": int(end)})

    # ---- output ----------------------------------------------------------------------------------
    def render(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Joints (2, T, 22, 3) and local rotations (2, T, 22, 3, 3), T = min(frames, MAX_FRAMES)."""
        t = int(min(max(frames, 2), MAX_FRAMES))
        joints, local = [], []
        for body, tr in zip(self.bodies, self.tracks):
            tr = tr.crop(t)
            feet = gait.plan(body, tr, self.fps)
            j, r = rig.solve(body, tr, feet)
            joints.append(j[:t])
            local.append(r[:t])
        return np.stack(joints), np.stack(local)


def body_axes(heading: float) -> tuple[np.ndarray, np.ndarray]:
    """(forward, left) unit 3-vectors of a heading."""
    return forward(heading), leftward(heading)


__all__ = ["Scene", "FPS", "MAX_FRAMES", "LEFT", "RIGHT", "wrap", "body_axes"]
