"""Rendering and export of an Interaction: body-mesh video, stick-figure video, animated GLB.

- :func:`render_video` — an H.264 MP4 of both people, as body meshes (pyrender off-screen, the mannequin-x
  wooden body by default, SMPL / SMPL-X from user files) or as stick figures (no OpenGL needed).
- :func:`intermask.render.glb.write_glb` — an animated, skinned glTF binary for ``gr.Model3D``, three.js
  and Blender.

Heavy imports (pyrender, PyOpenGL, imageio-ffmpeg) happen inside the functions.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from intermask.errors import InterMaskError
from intermask.render.camera import CameraSettings

STYLES = ("mesh", "stick")

__all__ = ["CameraSettings", "render_video", "render_frames", "side_by_side", "write_glb", "STYLES", "choose_style"]


def choose_style(requested: str | None = None, note: Callable[[str], None] | None = None) -> str:
    """The video style to render: ``requested`` when given, else "mesh" when off-screen OpenGL works here.

    Without OpenGL the default becomes "stick" and ``note`` receives one sentence saying so and why, so the
    switch is never silent; an explicit "mesh" is an InterMaskError naming the reason and the fix instead.
    """
    if requested == "stick":
        return "stick"
    if requested not in (None, "mesh"):
        raise InterMaskError(f"Unknown render style '{requested}'; choose 'mesh' or 'stick'.")
    from intermask.render.gl import gl_status, require_gl

    if requested == "mesh":
        require_gl()
        return "mesh"
    status = gl_status()
    if status.available:
        return "mesh"
    if note is not None:
        note(f"rendering stick figures: body meshes need off-screen OpenGL, which is not available here "
             f"({status.reason}); 'python -m intermask.render.gl' explains, --style stick silences this.")
    return "stick"


def _check(size: int, views: int, style: str) -> None:
    if style not in STYLES:
        raise InterMaskError(f"Unknown render style '{style}'; choose 'mesh' or 'stick'.")
    if views not in (1, 2):
        raise InterMaskError(f"views must be 1 or 2; got {views}.")
    if not 64 <= int(size) <= 2048:
        raise InterMaskError(f"Video size must be between 64 and 2048 pixels; got {size}.")


def render_frames(interaction, style: str = "mesh", size: int = 512, views: int = 1, body: str = "mannequin",
                  body_models: str | os.PathLike | None = None, camera: CameraSettings | None = None,
                  detail: str = "medium", smooth: float = 1.0, progress: Callable[[int, int], None] | None = None,
                  timings: dict | None = None, partner_highlight: bool = False):
    """Iterator over RGB frames (size, size * views, 3) uint8, one per motion frame."""
    _check(size, views, style)
    size = int(size) + int(size) % 2
    camera = camera or CameraSettings()
    if style == "stick":
        from intermask.render.stick import stick_frames

        return stick_frames(interaction, size, views, camera, progress, partner_highlight)
    from intermask.render.body import load_body
    from intermask.render.mesh import mesh_frames

    model = load_body(body, body_models, detail=detail)
    return mesh_frames(interaction, model, size, views, camera, smooth, timings, progress, partner_highlight)


def render_video(interaction, path: str | os.PathLike, style: str = "mesh", size: int = 512, views: int = 1,
                 body: str = "mannequin", body_models: str | os.PathLike | None = None, caption: str | None = None,
                 camera: CameraSettings | None = None, progress: Callable[[int, int], None] | None = None,
                 detail: str = "medium", smooth: float = 1.0, timings: dict | None = None,
                 partner_highlight: bool = False) -> Path:
    """Render ``interaction`` to an H.264 yuv420p MP4 at ``path`` and return the path.

    style: "mesh" or "stick"; size: height (and width per view) in pixels; views: 1, or 2 side by side
    (the second 90° round from the first); body: "mannequin", "smpl" or "smplx" (the last two need
    ``body_models`` or INTERMASK_BODY_MODELS); caption: text drawn at the top (None: none);
    camera: azimuth/elevation/field of view/follow; progress(done, total) is called after each frame;
    detail: body mesh resolution "low" | "medium" | "full"; smooth: temporal smoothing sigma in frames;
    partner_highlight: draw person A (a given partner, reaction mode) in grey; timings: filled with seconds
    spent posing, skinning, rendering and encoding.
    Rendering is deterministic: the same inputs give the same frames.
    """
    import time

    from intermask.render.video import VideoWriter, blend_strip, caption_strip

    frames = render_frames(interaction, style, size, views, body, body_models, camera, detail, smooth, progress,
                           timings, partner_highlight)
    size = int(size) + int(size) % 2
    strip = caption_strip(caption, size * views, size / 512) if caption else None
    encode = 0.0
    with VideoWriter(path, size * views, size, fps=int(interaction.fps)) as writer:
        for frame in frames:
            if strip is not None:
                frame = blend_strip(frame.copy(), strip)
            t = time.perf_counter()
            writer.write(frame)
            encode += time.perf_counter() - t
        t = time.perf_counter()
    if timings is not None:
        timings["encoding"] = encode + time.perf_counter() - t
    return Path(path)


def write_glb(interaction, path: str | os.PathLike, body: str = "mannequin", **kwargs) -> Path:
    """Animated skinned GLB of both people; see :func:`intermask.render.glb.write_glb`."""
    from intermask.render.glb import write_glb as _write_glb

    return _write_glb(interaction, path, body=body, **kwargs)


def side_by_side(left: str | os.PathLike, right: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Two MP4s next to each other in one MP4 (the shorter one holds its last frame)."""
    from intermask.render.video import side_by_side as _side_by_side

    return _side_by_side(left, right, path)
