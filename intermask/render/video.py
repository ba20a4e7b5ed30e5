"""H.264 yuv420p MP4 writing through imageio-ffmpeg (browser-playable), plus frame overlays.

Frames are piped to an ffmpeg subprocess as they are made, so encoding runs in parallel with rendering.
The file appears atomically: it is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from intermask.atomic import commit, discard, temporary_sibling
from intermask.errors import InterMaskError


class VideoWriter:
    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: int = 30, crf: int = 20,
                 preset: str = "veryfast") -> None:
        if width % 2 or height % 2:
            raise InterMaskError(f"Video size must be even for H.264 yuv420p; got {width}x{height}.")
        import imageio_ffmpeg

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temporary_sibling(self.path)
        self.width, self.height = int(width), int(height)
        self.frames = 0
        self._gen = imageio_ffmpeg.write_frames(
            str(self._tmp), (self.width, self.height), fps=fps, codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", preset, "-movflags", "+faststart"])
        self._gen.send(None)

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(f"frame shape {frame.shape} != {(self.height, self.width, 3)}")
        self._gen.send(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        if self._gen is None:
            return
        gen, self._gen = self._gen, None
        gen.close()
        if ok and self.frames:
            commit(self._tmp, self.path)
        else:
            discard(self._tmp)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


def even(n: int) -> int:
    return int(n) + (int(n) % 2)


_FONTS: dict[int, object] = {}


def _font(size: int):
    from PIL import ImageFont

    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1 has one bitmap size
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def caption_strip(text: str, width: int, scale: float = 1.0) -> np.ndarray:
    """A caption drawn once as an RGBA strip (h, width, 4) to alpha-blend onto every frame."""
    from PIL import Image, ImageDraw

    size = max(10, int(round(15 * scale)))
    font = _font(size)
    draw = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    # Wrap on words so that long prompts stay inside the frame.
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(lines[-1] + " " + word, font=font) <= width - 2 * size:
            lines[-1] += " " + word
        else:
            lines.append(word)
    lines = lines[:3]
    height = even(int(size * 1.35 * len(lines) + size))
    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, width, height], fill=(255, 255, 255, 170))
    for i, line in enumerate(lines):
        d.text((size, size // 2 + int(i * size * 1.35)), line, fill=(30, 30, 35, 255), font=font)
    return np.asarray(img)


def blend_strip(frame: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """Alpha-blend an RGBA strip onto the top of an RGB frame (in place) and return the frame."""
    h = min(strip.shape[0], frame.shape[0])
    a = strip[:h, :, 3:4].astype(np.float32) / 255.0
    top = frame[:h].astype(np.float32)
    frame[:h] = (top * (1 - a) + strip[:h, :, :3] * a).astype(np.uint8)
    return frame


def read_video(path: str | os.PathLike) -> tuple[list[np.ndarray], float]:
    """All frames (RGB uint8) and the frame rate of a video file."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]
    return frames, float(meta.get("fps") or 30)


def side_by_side(left: str | os.PathLike, right: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Two videos next to each other; the shorter holds its last frame, the lower is padded in white."""
    a, fps = read_video(left)
    b, _ = read_video(right)
    if not a or not b:
        raise InterMaskError("Cannot put an empty video side by side.")
    h = even(max(a[0].shape[0], b[0].shape[0]))
    w = even(a[0].shape[1] + b[0].shape[1])
    with VideoWriter(path, w, h, fps=int(round(fps))) as writer:
        for t in range(max(len(a), len(b))):
            frame = np.full((h, w, 3), 255, np.uint8)
            fa, fb = a[min(t, len(a) - 1)], b[min(t, len(b) - 1)]
            frame[:fa.shape[0], :fa.shape[1]] = fa
            frame[:fb.shape[0], fa.shape[1]:fa.shape[1] + fb.shape[1]] = fb
            writer.write(frame)
    return Path(path)
