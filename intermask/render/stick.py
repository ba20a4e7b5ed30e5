"""Stick figures of both 22-joint skeletons, drawn with Pillow (no OpenGL), one or two views.

Each frame is drawn at twice the output size and box-filtered down, which antialiases the lines; bones are
drawn far-to-near so that the nearer person's limbs cover the farther one's. A fixed camera draws the floor
grid once and reuses it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from intermask import skeleton as sk
from intermask.motion.interaction import Interaction
from intermask.render.camera import CameraPath, CameraSettings, frame_camera

BACKGROUND = (238, 240, 245)
GRID = (196, 199, 206)
# Per person: (left side, right side / spine) colours, so left and right limbs read apart.
COLOURS = (((234, 125, 70), (196, 82, 40)), ((84, 148, 226), (40, 96, 186)))
PARTNER = ((170, 170, 175), (128, 128, 134))  # a given partner (reaction mode)
LEFT = set(sk.LEFT_CHAIN)
SUPERSAMPLE = 2


def _grid_segments(centre: np.ndarray, half: int) -> np.ndarray:
    """Floor grid lines (N, 2, 3) every metre around ``centre`` on y = 0."""
    cx, cz = np.round(centre[0]), np.round(centre[2])
    segs = []
    for k in range(-half, half + 1):
        segs.append([[cx + k, 0, cz - half], [cx + k, 0, cz + half]])
        segs.append([[cx - half, 0, cz + k], [cx + half, 0, cz + k]])
    return np.asarray(segs, dtype=np.float64)


def _clip_to_front(seg: np.ndarray, pose: np.ndarray, near: float = 0.1) -> np.ndarray | None:
    """Cut a 3D segment (2, 3) to the part in front of the camera (view depth > near)."""
    depth = -((seg - pose[:3, 3]) @ pose[:3, 2])
    if depth.max() <= near:
        return None
    if depth.min() >= near:
        return seg
    a = (near - depth[0]) / (depth[1] - depth[0])
    cut = seg[0] + a * (seg[1] - seg[0])
    return np.stack([cut, seg[1]]) if depth[0] < near else np.stack([seg[0], cut])


class StickRenderer:
    def __init__(self, interaction: Interaction, size: int = 512, views: int = 1,
                 camera: CameraSettings = CameraSettings(), partner_highlight: bool = False) -> None:
        self.colours = (PARTNER, COLOURS[1]) if partner_highlight else COLOURS
        self.joints = np.asarray(interaction.joints, dtype=np.float64)
        self.size = int(size)
        self.cams: list[CameraPath] = [frame_camera(self.joints, camera, 1.0, azimuth_offset=90.0 * k)
                                       for k in range(views)]
        pts = self.joints.reshape(-1, 3)
        centre = 0.5 * (pts.min(0) + pts.max(0))
        self.grid = _grid_segments(centre, int(np.ceil(np.abs(pts - centre).max())) + 3)
        self._static = [self._background(c, 0) if len(c.poses) == 1 else None for c in self.cams]

    def _background(self, cam: CameraPath, t: int):
        from PIL import Image, ImageDraw

        s = self.size * SUPERSAMPLE
        img = Image.new("RGB", (s, s), BACKGROUND)
        draw = ImageDraw.Draw(img)
        pose = cam.pose(t)
        for seg in self.grid:
            seg = _clip_to_front(seg, pose)
            if seg is None:
                continue
            xy, _ = cam.project(seg, t, s, s)
            draw.line([tuple(xy[0]), tuple(xy[1])], fill=GRID, width=SUPERSAMPLE)
        return img

    def _view(self, k: int, t: int):
        from PIL import ImageDraw

        cam = self.cams[k]
        img = (self._static[k] if self._static[k] is not None else self._background(cam, t)).copy()
        draw = ImageDraw.Draw(img)
        s = self.size * SUPERSAMPLE
        f = 0.5 * s / np.tan(0.5 * cam.yfov)
        items = []
        for p in range(2):
            xy, depth = cam.project(self.joints[p, t], t, s, s)
            for a, b in sk.BONES:
                d = 0.5 * (depth[a] + depth[b])
                colour = self.colours[p][0 if b in LEFT else 1]
                items.append((d, "bone", xy[a], xy[b], max(2.0, f * 0.045 / d), colour))
            for j in range(22):
                r = f * (0.11 if j == 15 else 0.03) / depth[j]
                items.append((depth[j] - (0.05 if j == 15 else 0.0), "joint", xy[j], None, max(r, 1.5),
                              self.colours[p][1] if j == 15 else self.colours[p][0 if j in LEFT else 1]))
        items.sort(key=lambda it: -it[0])
        for _, kind, a, b, w, colour in items:
            if kind == "bone":
                draw.line([tuple(a), tuple(b)], fill=colour, width=int(round(w)))
            else:
                draw.ellipse([a[0] - w, a[1] - w, a[0] + w, a[1] + w], fill=colour)
        return img.reduce(SUPERSAMPLE)

    def frame(self, t: int) -> np.ndarray:
        views = [np.asarray(self._view(k, t)) for k in range(len(self.cams))]
        return views[0] if len(views) == 1 else np.concatenate(views, axis=1)


def stick_frames(interaction: Interaction, size: int = 512, views: int = 1,
                 camera: CameraSettings = CameraSettings(),
                 progress: Callable[[int, int], None] | None = None,
                 partner_highlight: bool = False) -> Iterator[np.ndarray]:
    renderer = StickRenderer(interaction, size, views, camera, partner_highlight)
    T = interaction.num_frames
    for t in range(T):
        if progress is not None:
            progress(t + 1, T)
        yield renderer.frame(t)
