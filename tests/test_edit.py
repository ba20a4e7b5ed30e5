"""Editing an interaction: regenerate a span (both people or one) from a new text and keep everything else exactly.

Most tests use a tiny untrained checkpoint (its motion is noise-like, but what is kept, lengths, determinism and
refusals do not depend on training); the seam test uses the bundled model, whose motion is real.
"""
from pathlib import Path

import numpy as np
import pytest

from fixtures import random_interaction, write_tiny_checkpoint
from intermask.api import DEFAULT_CHECKPOINT, InterMask
from intermask.edit import plan_edit, regenerate, splice
from intermask.errors import InterMaskError
from intermask.metrics.seams import seam_jump, velocity_jumps
from intermask.motion.bvh import write_bvh
from intermask.motion.features import features_to_joints
from intermask.motion.interaction import Interaction
from intermask.motion.loaders import load_pair
from intermask.settings import SamplingSettings
from intermask.text.base import ToyTextEncoder

FPS = 30
FAST = {"time_steps": 2}  # what is kept, lengths and refusals do not depend on the number of decoding rounds


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> InterMask:
    return InterMask.from_pretrained(write_tiny_checkpoint(tmp_path_factory.mktemp("edit")),
                                     text_encoder=ToyTextEncoder())


@pytest.fixture(scope="module")
def clip() -> Interaction:
    return random_interaction(seed=5, frames=90, text="two people shake hands.")  # 3 s


def outside(frames: int, start: int, stop: int) -> np.ndarray:
    keep = np.ones(frames, bool)
    keep[start:stop] = False
    return keep


def test_both_people_are_regenerated_inside_the_span_and_every_other_frame_is_kept(model, clip):
    edited = model.edit(clip, start=1.0, end=2.0, text="they hug", seed=0, **FAST)
    assert edited.joints.shape == clip.joints.shape and edited.rot6d.shape == clip.rot6d.shape
    keep = outside(90, 30, 60)
    np.testing.assert_array_equal(edited.joints[:, keep], clip.joints[:, keep])  # bit for bit
    np.testing.assert_array_equal(edited.rot6d[:, keep], clip.rot6d[:, keep])
    for p in range(2):
        assert not np.allclose(edited.joints[p, 35:55], clip.joints[p, 35:55], atol=1e-3)
    assert edited.text == "they hug" and edited.meta["mode"] == "edit"
    assert edited.meta["span_frames"] == [30, 60] and edited.meta["person"] is None
    assert edited.meta["source_text"] == "two people shake hands."


def test_refinement_of_an_edit_changes_only_the_regenerated_frames(model, clip):
    refined = model.edit(clip, start=1.0, end=2.0, text="they hug", person=1, seed=0, **FAST)  # refine: default
    raw = model.edit(clip, start=1.0, end=2.0, text="they hug", person=1, seed=0, refine=False, **FAST)
    assert refined.meta["refine"] == {"persons": [1], "frames": [30, 60], "seam_frames": 12,
                                      "smoothing_frames": refined.meta["refine"]["smoothing_frames"]}
    assert "refine" not in raw.meta
    keep = outside(90, 30, 60)
    for edited in (refined, raw):
        np.testing.assert_array_equal(edited.joints[0], clip.joints[0])
        np.testing.assert_array_equal(edited.joints[1, keep], clip.joints[1, keep])
    assert not np.allclose(refined.joints[1, 40:50], raw.joints[1, 40:50], atol=1e-3)  # the span was refined
    np.testing.assert_array_equal(refined.rot6d, raw.rot6d)  # rotations stay the model's


@pytest.mark.parametrize("person", [0, 1])
def test_one_person_is_regenerated_and_the_other_is_kept_in_every_frame(model, clip, person):
    edited = model.edit(clip, start=0.5, end=2.5, text="the other one ducks", person=person, seed=1, **FAST)
    other = 1 - person
    np.testing.assert_array_equal(edited.joints[other], clip.joints[other])
    np.testing.assert_array_equal(edited.rot6d[other], clip.rot6d[other])
    keep = outside(90, 15, 75)
    np.testing.assert_array_equal(edited.joints[person, keep], clip.joints[person, keep])
    assert not np.allclose(edited.joints[person, 25:65], clip.joints[person, 25:65], atol=1e-3)
    assert edited.meta["person"] == person


def test_same_seed_same_edit_and_another_seed_another(model, clip):
    a = model.edit(clip, 1.0, 2.0, "they hug", seed=3, **FAST)
    b = model.edit(clip, 1.0, 2.0, "they hug", seed=3, **FAST)
    c = model.edit(clip, 1.0, 2.0, "they hug", seed=4, **FAST)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert not np.array_equal(a.joints, c.joints)


def test_a_span_off_the_token_grid_is_edited_exactly_where_asked(model, clip):
    """1.1–1.9 s is frames 33–57: tokens 8–14 (32–60) are re-sampled, yet frames 32 and 57–59 are kept."""
    plan = plan_edit(90, 1.1, 1.9, None, "a wave", model.frames_per_token, model.max_tokens)
    assert (plan.start, plan.stop) == (33, 57) and plan.span_tokens == (8, 15)
    edited = model.edit(clip, 1.1, 1.9, "a wave", seed=0, **FAST)
    keep = outside(90, 33, 57)
    np.testing.assert_array_equal(edited.joints[:, keep], clip.joints[:, keep])
    assert not np.allclose(edited.joints[:, 40:50], clip.joints[:, 40:50], atol=1e-3)
    # To the clip's end, which is not a whole token (90 frames): the last token is padded, nothing after is kept.
    tail = model.edit(clip, 2.0, 3.0, "a wave", seed=0, **FAST)
    np.testing.assert_array_equal(tail.joints[:, :60], clip.joints[:, :60])
    assert not np.allclose(tail.joints[:, 80:], clip.joints[:, 80:], atol=1e-3)


def test_a_long_clip_is_edited_in_a_window_around_the_span(model):
    long = random_interaction(seed=6, frames=14 * FPS)  # longer than the model's 10 s window
    plan = plan_edit(long.num_frames, 11.0, 12.0, None, "a hug", model.frames_per_token, model.max_tokens)
    assert plan.window[1] - plan.window[0] == model.max_tokens and plan.window[0] <= 11 * FPS // 4
    edited = model.edit(long, 11.0, 12.0, "a hug", seed=0, **FAST)
    keep = outside(long.num_frames, 330, 360)
    np.testing.assert_array_equal(edited.joints[:, keep], long.joints[:, keep])


@pytest.mark.parametrize("kwargs, message", [
    (dict(start=2.5, end=3.5), r"\[2.5, 3.5\) s is not inside the clip, which lasts 3.00 s \(accepted: 0 ≤ start"),
    (dict(start=-1, end=1), r"\[-1, 1\) s is not inside the clip"),
    (dict(start=3.0, end=3.0), "must end after it starts"),
    (dict(start="soon", end=3.0), "start must be a number of seconds; got 'soon'"),
    (dict(start=2.0, end=1.0), "must end after it starts.*0 ≤ start < end ≤ 3.00 s"),
    (dict(start=1.0, end=1.1), r"covers 3 frame\(s\); at least one token \(4 frames, 0.13 s\)"),
    (dict(start=0, end=3, text=""), "nothing is kept.*give a description, a shorter span, or one person"),
    (dict(start=1, end=2, person=2), "person must be None .*, 0 or 1; got 2"),
    (dict(start=1, end=2, person=True), "person must be None"),
    (dict(start=1, end=2, text="x" * 2000), "at most 1000"),
    (dict(start=1, end=2, time_steps=0), "Time steps"),
])
def test_bad_requests_get_a_sentence_naming_what_is_accepted(model, clip, kwargs, message):
    kwargs = {"text": "a hug", **FAST, **kwargs}
    with pytest.raises(InterMaskError, match=message):
        model.edit(clip, **kwargs)


def test_an_empty_text_in_paints_when_something_is_kept(model, clip):
    edited = model.edit(clip, 0, 3, text="", person=1, seed=0, **FAST)  # person 0 is the context
    np.testing.assert_array_equal(edited.joints[0], clip.joints[0])


def test_a_span_longer_than_the_window_is_refused(model):
    long = random_interaction(seed=7, frames=12 * FPS)
    with pytest.raises(InterMaskError, match="at most 9.87 s can be regenerated at once"):
        model.edit(long, 0.5, 11.5, "a hug", **FAST)


def test_any_loaded_motion_can_be_edited(model, clip, tmp_path):
    """The exchange file is kept bit for bit; .npy joints and a two-person BVH are loaded like uploads."""
    path = clip.save(tmp_path / "clip.npz")
    edited = model.edit(path, 1.0, 2.0, "a hug", person=1, seed=0, **FAST)
    np.testing.assert_array_equal(edited.joints[0], Interaction.load(path).joints[0])
    np.save(tmp_path / "pair.npy", clip.joints)
    from_npy = model.edit(tmp_path / "pair.npy", 1.0, 2.0, "a hug", seed=0, **FAST)
    np.testing.assert_array_equal(from_npy.joints[:, :30], load_pair(tmp_path / "pair.npy").joints[:, :30])
    [bvh] = write_bvh(tmp_path / "pair.bvh", clip)
    from_bvh = model.edit(bvh, 1.0, 2.0, "a hug", seed=0, **FAST)
    assert from_bvh.num_frames == 90
    assert np.abs(from_bvh.joints[:, :30] - clip.joints[:, :30]).max() < 2e-3  # BVH keeps joints to a millimetre


def test_one_person_files_are_refused_naming_what_is_accepted(model, clip, tmp_path):
    np.save(tmp_path / "one.npy", clip.joints[0])
    with pytest.raises(InterMaskError, match=r"shape \(90, 22, 3\).*\.npy joints of shape \(2, T, 22, 3\)"):
        model.edit(tmp_path / "one.npy", 1.0, 2.0, "a hug", **FAST)
    [bvh] = write_bvh(tmp_path / "a.bvh", clip.joints[0], clip.rot6d[0])
    with pytest.raises(InterMaskError, match="holds 1 person; editing needs two"):
        model.edit(bvh, 1.0, 2.0, "a hug", **FAST)


def test_cli_edit_round_trip(model, clip, tmp_path):
    from intermask.cli import main

    path = clip.save(tmp_path / "clip.npz")
    out = tmp_path / "out"
    code = main(["edit", "--motion", str(path), "--start", "1", "--end", "2", "--text", "the other one ducks",
                 "--person", "1", "--seed", "2", "--time-steps", "2", "--checkpoint", str(model.checkpoint_dir),
                 "--out", str(out)])
    assert code == 0
    edited = Interaction.load(out / "edit.npz")
    np.testing.assert_array_equal(edited.joints[0], clip.joints[0])
    assert edited.meta["span_frames"] == [30, 60] and edited.meta["seed"] == 2 and edited.meta["person"] == 1
    bad = main(["edit", "--motion", str(path), "--start", "1", "--end", "9", "--text", "x", "--checkpoint",
                str(model.checkpoint_dir), "--out", str(tmp_path / "bad")])
    assert bad == 2 and not (tmp_path / "bad").exists()


def test_velocity_jumps_find_a_teleport():
    t = np.arange(20, dtype=float)
    joints = np.zeros((2, 20, 22, 3))
    joints[..., 0] = 0.05 * t[None, :, None]  # steady walk: no jump anywhere
    assert np.allclose(velocity_jumps(joints), 0)
    joints[1, 10:, 3, 2] += 0.3  # one joint of person B jumps 30 cm at frame 10
    jumps = velocity_jumps(joints)
    assert np.allclose(jumps[[9, 10]], 0.3) and np.allclose(np.delete(jumps, [9, 10]), 0)
    assert seam_jump(joints, 10, 15, reach=3) == {"start": pytest.approx(0.3), "end": pytest.approx(0.0)}
    assert seam_jump(joints, 0, 20, reach=3) == {"start": None, "end": None}


@pytest.mark.skipif(not (DEFAULT_CHECKPOINT / "config.json").exists(), reason="the bundled model is missing")
def test_seams_of_a_real_edit_are_as_smooth_as_the_motion_around_them():
    """With the bundled model: the velocity jump at each seam exceeds the input's own jump at that frame by at most
    the input's typical (median) frame-to-frame jump, where pasting the decoded span in without the seam
    correction jumps by far more. (The input's own jump is the reference: a seam may fall where the input itself
    changes pace, and the correction keeps the input's velocity there.)"""
    real = InterMask.from_pretrained()
    [source] = real.generate("They step forward and shake right hands.", seconds=4, seed=0, time_steps=6)
    settings = SamplingSettings(time_steps=6)
    plan = plan_edit(source.num_frames, 1.5, 2.5, None, "Both people hug each other.", real.frames_per_token,
                     real.max_tokens)
    decoded = regenerate(real, source, plan, "Both people hug each other.", 0, settings)
    smooth, _ = splice(source, decoded, plan)
    raw = source.joints.copy()
    raw[:, plan.start:plan.stop] = features_to_joints(decoded)[:, plan.start:plan.stop]  # the window starts at 0
    own = seam_jump(source.joints, plan.start, plan.stop, reach=8)
    typical = float(np.median(velocity_jumps(source.joints)))
    for joints, ok in ((smooth, True), (raw, False)):
        jumps = seam_jump(joints, plan.start, plan.stop, reach=8)
        assert all(jumps[k] <= own[k] + typical for k in jumps) == ok, (jumps, own, typical)
