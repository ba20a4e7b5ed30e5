"""Mesh and stick-figure videos: frame count and size of the MP4, both bodies visible, options, errors."""
import numpy as np
import pytest

from intermask.errors import InterMaskError
from intermask.render import CameraSettings, render_frames, render_video, side_by_side
from intermask.render.sample import sample_interaction
from intermask.render.scene import PERSON_COLOURS
from intermask.render.video import read_video


@pytest.fixture(scope="module")
def clip():
    return sample_interaction(frames=12, seed=3)


def _colour_share(frame: np.ndarray, rgb: tuple[float, float, float]) -> float:
    """Share of pixels whose hue is that of a person's colour (shading changes brightness, not hue)."""
    f = frame.astype(np.float32) + 1.0
    target = np.asarray(rgb, np.float32) + 1e-3
    chroma = f / f.sum(-1, keepdims=True)
    ref = target / target.sum()
    saturated = (f.max(-1) - f.min(-1)) > 40
    return float(np.mean((np.abs(chroma - ref).max(-1) < 0.06) & saturated))


def test_mesh_mp4_has_every_frame_at_the_requested_size(tmp_path, clip):
    timings = {}
    out = render_video(clip, tmp_path / "clip.mp4", style="mesh", size=128, detail="low", timings=timings)
    frames, fps = read_video(out)
    assert len(frames) == clip.num_frames and fps == pytest.approx(30)
    assert frames[0].shape == (128, 128, 3)
    assert set(timings) == {"posing", "skinning", "rendering", "encoding"}


def test_both_bodies_are_visible_in_a_mesh_frame(clip):
    frame = list(render_frames(clip, "mesh", size=160, detail="low"))[6]
    a, b = _colour_share(frame, PERSON_COLOURS[0]), _colour_share(frame, PERSON_COLOURS[1])
    assert a > 0.02 and b > 0.02, (a, b)
    # The background and floor are light and neutral: no colour of either person at the corners.
    assert frame[:8, :8].min() > 150


def test_partner_highlight_greys_person_a(clip):
    frame = list(render_frames(clip, "mesh", size=128, detail="low", partner_highlight=True))[0]
    assert _colour_share(frame, PERSON_COLOURS[0]) < 0.002
    assert _colour_share(frame, PERSON_COLOURS[1]) > 0.02


def test_stick_video_two_views_and_caption(tmp_path, clip):
    out = render_video(clip, tmp_path / "stick.mp4", style="stick", size=96, views=2, caption=clip.text,
                       camera=CameraSettings(follow=True, elevation=25))
    frames, _ = read_video(out)
    assert len(frames) == clip.num_frames and frames[0].shape == (96, 192, 3)
    # The caption strip darkens some pixels at the top of the frame (text), the rest is background.
    assert frames[0][:12].min() < 120


def test_stick_frames_show_both_people():
    frame = next(iter(render_frames(sample_interaction(frames=2), "stick", size=128)))
    orange = (frame[..., 0] > 150) & (frame[..., 2] < 110)
    blue = (frame[..., 2] > 150) & (frame[..., 0] < 110)
    assert orange.mean() > 0.005 and blue.mean() > 0.005
    # The camera is deterministic: the same clip gives the same pixels.
    again = next(iter(render_frames(sample_interaction(frames=2), "stick", size=128)))
    assert np.array_equal(frame, again)


def test_side_by_side_pads_the_shorter_video(tmp_path, clip):
    a = render_video(clip, tmp_path / "a.mp4", style="stick", size=64)
    b = render_video(clip.slice(0, 5), tmp_path / "b.mp4", style="stick", size=64)
    frames, _ = read_video(side_by_side(a, b, tmp_path / "ab.mp4"))
    assert len(frames) == clip.num_frames and frames[0].shape == (64, 128, 3)


@pytest.mark.parametrize("kwargs,words", [
    (dict(style="cartoon"), "style"), (dict(views=3), "views"), (dict(size=8), "size"),
    (dict(body="robot"), "body"),
])
def test_bad_options_are_user_errors(tmp_path, clip, kwargs, words):
    with pytest.raises(InterMaskError, match=words):
        render_video(clip, tmp_path / "x.mp4", **kwargs)
    assert not (tmp_path / "x.mp4").exists()


def test_cli_render_stick(tmp_path, clip):
    from intermask.cli import main

    motion = clip.save(tmp_path / "clip.npz")
    assert main(["render", "--motion", str(motion), "--out", str(tmp_path / "c.mp4"), "--style", "stick",
                 "--size", "64", "--caption", "-"]) == 0
    assert len(read_video(tmp_path / "c.mp4")[0]) == clip.num_frames
