"""The Python API on a tiny checkpoint trained for a few steps inside the test."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from intermask.api import InterMask
from intermask.errors import InterMaskError
from intermask.motion.features import FEATURE_DIM
from intermask.motion.interaction import Interaction
from intermask.motion.loaders import load_partner
from intermask.text.base import ToyTextEncoder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from fixtures import write_interhuman_tree  # noqa: E402


def _train(script: str, *args: str) -> None:
    cmd = [sys.executable, f"train/{script}", "--config", "tiny", "--no-progress", "--threads", "1", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> InterMask:
    """VQ and transformer trained for a few steps on a small fixture tree (toy text encoder)."""
    tmp = tmp_path_factory.mktemp("api")
    data = tmp / "data"
    write_interhuman_tree(data, n_clips=8, frames=(60, 90), seed=3)
    small = ["--width", "16", "--code-dim", "16", "--nb-code", "64"]
    _train("train_vq.py", "--data-root", str(data), "--out", str(tmp / "vq"), "--batch-size", "8",
           "--max-steps", "6", "--window-size", "32", *small)
    _train("train_transformer.py", "--data-root", str(data), "--out", str(tmp / "t2m"), "--vq",
           str(tmp / "vq" / "latest"), "--batch-size", "4", "--max-steps", "4", "--latent-dim", "32",
           "--n-heads", "2", "--n-layers", "1", "--ff-size", "64", "--text-encoder", "toy")
    return InterMask.from_pretrained(tmp / "t2m" / "latest", text_encoder=ToyTextEncoder())


def test_generate_shapes_and_determinism(model):
    clips = model.generate(["two people hug", "one waves"], seconds=2.0, num_samples=2, seed=7)
    assert len(clips) == 4
    for clip in clips:
        assert clip.joints.shape == (2, 60, 22, 3) and clip.rot6d.shape == (2, 60, 21, 6)
        assert clip.features.shape == (2, 60, FEATURE_DIM) and clip.fps == 30
    assert clips[0].text == "two people hug" and clips[2].text == "one waves"
    again = model.generate(["two people hug", "one waves"], seconds=2.0, num_samples=2, seed=7)
    assert all(np.array_equal(a.joints, b.joints) for a, b in zip(clips, again))
    other = model.generate(["two people hug", "one waves"], seconds=2.0, num_samples=2, seed=8)
    assert not np.array_equal(clips[0].joints, other[0].joints)
    assert not np.array_equal(clips[0].joints, clips[1].joints)  # samples of one text differ


def test_durations_and_unconditional(model):
    [one] = model.generate("", seconds=1.0)
    [ten] = model.generate("a punch", seconds=10.0)
    assert one.num_frames == 30 and ten.num_frames == 300


@pytest.mark.parametrize("kwargs, words", [
    ({"seconds": 0}, "Duration"), ({"seconds": 1000}, "Duration"), ({"time_steps": 0}, "Time steps"),
    ({"cond_scale": -1}, "Guidance"), ({"topk_ratio": 1.0}, "Top-k"), ({"topk_ratio": -0.1}, "Top-k"),
    ({"temperature": float("nan")}, "Temperature"), ({"num_samples": 0}, "samples"),
])
def test_out_of_range_settings_name_the_accepted_range(model, kwargs, words):
    with pytest.raises(InterMaskError, match=words):
        model.generate("a hug", **kwargs)


def test_progress_reports_every_step(model):
    seen = []
    model.generate("a hug", seconds=1.0, time_steps=5, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 5) for i in range(1, 6)]


def test_reaction_keeps_the_partner_exactly(model, tmp_path):
    [source] = model.generate("a wave", seconds=3.0, seed=1)
    path = source.save(tmp_path / "partner.npz")
    partner = load_partner(path)
    clip = model.react(path, text="the other waves back", seed=2)
    assert clip.num_frames == partner.joints.shape[0] == 90
    assert np.array_equal(clip.joints[0], partner.joints) and np.array_equal(clip.rot6d[0], partner.rot6d)
    assert np.isfinite(clip.joints[1]).all() and not np.allclose(clip.joints[1], clip.joints[0])
    short = model.react(path, seconds=1.5, seed=2)
    assert short.num_frames == 45 and np.array_equal(short.joints[0], partner.joints[:45])
    with pytest.raises(InterMaskError, match="Duration"):
        model.react(path, seconds=5.0)


def test_reaction_follows_the_partner_in_the_world(model):
    """Moving and turning the partner moves and turns the reaction with it (same world frame)."""
    [source] = model.generate("a wave", seconds=2.0, seed=4)
    moved = Interaction(source.joints.copy(), source.rot6d, text=source.text)
    angle = np.pi / 2
    rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    moved.joints[:] = moved.joints @ rot.T + np.array([3.0, 0.0, -2.0])
    a = model.react(source, seed=5, temperature=0)
    b = model.react(moved, seed=5, temperature=0)
    expected = a.joints[1] @ rot.T + np.array([3.0, 0.0, -2.0])
    # equal up to the floor shift the loader applies and float rounding
    assert np.abs((b.joints[1] - expected)[..., [0, 2]]).max() < 1e-3


def test_compose_length_and_seamless_joins(model):
    timeline = [("two people walk toward each other", 3.0), ("they hug", 9.0), ("they walk away", 4.0)]
    clip = model.compose(timeline, seed=3)
    assert clip.num_frames == 16 * 30
    seams = clip.meta["seams"]
    assert len(seams) == 3
    vel = np.diff(clip.joints, axis=1)
    jump = np.linalg.norm(np.diff(vel, axis=1), axis=-1).max(axis=(0, 2))  # per frame, worst joint
    at_seams = np.concatenate([jump[max(0, s - 3): s + 3] for s in seams])
    assert at_seams.max() <= np.percentile(jump, 99) + 1e-6


def test_compose_progress_counts_the_rounds_of_both_passes(model):
    from intermask.compose import plan_chunks

    timeline = [("they hug", 2.0), ("they walk away", 9.0)]
    totals = []
    for second_pass in (0, 2):
        calls = []
        model.compose(timeline, seed=1, time_steps=3, second_pass=second_pass,
                      progress=lambda i, n: calls.append((i, n)))
        assert [i for i, _ in calls] == list(range(1, len(calls) + 1))  # one call per round
        assert {n for _, n in calls} == {len(calls)}  # the total, known from the start
        totals.append(len(calls))
    chunks = len(plan_chunks(timeline, model.max_tokens, model.frames_per_token))
    assert chunks > 1 and totals[1] == totals[0] + 2 * chunks  # each chunk's second person, once more in 2 rounds


def test_compose_rejects_bad_timelines(model):
    for bad, words in [([], "empty"), ([("a", 0.2)], "Seconds"), ([("a", 30)] * 3, "60"), (["oops"], "pair")]:
        with pytest.raises(InterMaskError, match=words):
            model.compose(bad)


def test_foot_cleanup_keeps_bone_lengths(model):
    from intermask.skeleton import bone_lengths

    [raw] = model.generate("walk", seconds=2.0, seed=0, refine=False)
    [clean] = model.generate("walk", seconds=2.0, seed=0, foot_cleanup=True, refine=False)
    legs = [0, 1, 2, 3, 4, 5, 6, 7]  # the eight leg bones of KINEMATIC_CHAINS
    for p in range(2):
        before = np.median(bone_lengths(raw.joints[p])[:, legs], axis=0)
        after = bone_lengths(clean.joints[p])[:, legs]
        assert np.abs(after[:, [1, 2, 5, 6]] - before[[1, 2, 5, 6]]).max() < 1e-3  # thigh and shin


def test_refine_is_on_by_default_and_can_be_switched_off(model):
    from intermask.motion.features import features_to_joints
    from intermask.skeleton import bone_lengths

    [raw] = model.generate("two people hug", seconds=2.0, seed=3, refine=False)
    [refined] = model.generate("two people hug", seconds=2.0, seed=3)
    np.testing.assert_array_equal(raw.joints, features_to_joints(raw.features))  # exactly what was decoded
    assert "refine" not in raw.meta and refined.meta["refine"]["fixed"] == []
    spread = lambda clip: (bone_lengths(clip.joints).max(axis=1) - bone_lengths(clip.joints).min(axis=1)).max()
    assert spread(raw) > 3e-3 and spread(refined) < 1e-3  # the tiny model's bones drift; refined ones do not
    [again] = model.generate("two people hug", seconds=2.0, seed=3)
    np.testing.assert_array_equal(again.joints, refined.joints)  # same seed, same refined motion
    long = model.compose([("they hug", 2.0), ("they walk away", 2.0)], seed=1)
    assert long.meta["refine"]["fixed"] == [] and spread(long) < 1e-3
    assert "refine" not in model.compose([("they hug", 2.0)], seed=1, refine=False).meta


def test_reaction_refines_only_the_generated_person(model):
    [source] = model.generate("a wave", seconds=2.0, seed=6, refine=False)
    partner = load_partner(source)  # the partner as the reaction reads it (floor at y = 0)
    for foot_cleanup in (False, True):
        clip = model.react(source, seed=7, foot_cleanup=foot_cleanup)
        assert clip.joints[0].tobytes() == partner.joints.tobytes()  # the partner, bit for bit
        assert clip.rot6d[0].tobytes() == partner.rot6d.tobytes()
        assert clip.meta["refine"]["fixed"] == [0]
    refined = model.react(source, seed=7)
    raw = model.react(source, seed=7, refine=False)
    assert raw.joints[0].tobytes() == partner.joints.tobytes()
    assert "refine" not in raw.meta and not np.allclose(raw.joints[1], refined.joints[1])


def test_cli_generate_writes_files(model, tmp_path):
    from intermask.cli import main

    out = tmp_path / "out"
    code = main(["generate", "--text", "a hug", "--seconds", "1", "--samples", "2", "--checkpoint",
                 str(model.checkpoint_dir), "--out", str(out), "--bvh"])
    # the CLI loads the checkpoint's own encoder ("toy"), so it runs without the test's instance
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert "sample_00.npz" in names and "sample_01.npz" in names and any(n.endswith(".bvh") for n in names)
    loaded = Interaction.load(out / "sample_00.npz")
    assert loaded.text == "a hug" and json.loads(json.dumps(loaded.meta))["seed"] == 0
    assert loaded.meta["refine"]["fixed"] == []  # refined by default; --no-refine keeps the raw output
    assert main(["generate", "--text", "a hug", "--seconds", "1", "--checkpoint", str(model.checkpoint_dir),
                 "--out", str(tmp_path / "raw"), "--no-refine"]) == 0
    assert "refine" not in Interaction.load(tmp_path / "raw" / "sample_00.npz").meta
    bad = main(["generate", "--text", "a hug", "--seconds", "0", "--checkpoint", str(model.checkpoint_dir),
                "--out", str(tmp_path / "bad")])
    assert bad == 2 and not (tmp_path / "bad").exists()  # nothing half-written


def test_result_files_name_checkpoints_inside_the_repository_relative_to_it(tmp_path):
    from intermask.api import DEFAULT_CHECKPOINT, repo_relative

    assert repo_relative(DEFAULT_CHECKPOINT) == "checkpoints/intersynth/intermask"
    # A checkpoint outside the clone keeps the path it was given.
    assert repo_relative(tmp_path / "run" / "best") == str(tmp_path / "run" / "best")
