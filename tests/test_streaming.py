"""Streamed reaction (InterMask.react_stream) on a tiny untrained checkpoint: what it promises, checked.

The model is untrained, so nothing here judges motion quality (the evaluation does, ``eval --react --stream``);
these tests pin down causality, the lookahead, determinism, the bounded context and how bad streams end.
"""
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from intermask.api import InterMask
from intermask.errors import InterMaskError
from intermask.text.base import ToyTextEncoder

sys.path.insert(0, str(Path(__file__).parent))
from fixtures import random_person, write_tiny_checkpoint  # noqa: E402

LOOKAHEAD = 3  # frames: frame f is made once partner frame 4⌊f/4⌋ + 3 has arrived


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> InterMask:
    import torch

    path = write_tiny_checkpoint(tmp_path_factory.mktemp("stream"))
    loaded = InterMask.from_pretrained(path, text_encoder=ToyTextEncoder())
    # A stream's steps are small: one thread is faster than two, and ten times so when the cores are busy.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield loaded
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def partner() -> np.ndarray:
    joints, _ = random_person(seed=4, frames=42, walk=True, speed=0.5)
    return joints


def reaction(model, frames, **kw) -> np.ndarray:
    return np.stack([f.joints for f in model.react_stream(frames, **kw)])


def test_one_reaction_frame_per_partner_frame_with_a_fixed_lookahead(model, partner):
    frames = list(model.react_stream(iter(partner), text="they dance", seed=1))
    assert [f.index for f in frames] == list(range(42))  # 42 = 10 whole tokens and a partial one
    assert all(f.joints.shape == (22, 3) and f.rot6d.shape == (21, 6) for f in frames)
    assert all(np.isfinite(f.joints).all() for f in frames)
    # Each frame waits for the partner frame that completes its token, never longer; the last partial token
    # is made when the stream ends.
    assert [f.partner_frame for f in frames[:40]] == [4 * (i // 4) + 3 for i in range(40)]
    assert all(f.partner_frame - f.index <= LOOKAHEAD for f in frames)
    assert [f.partner_frame for f in frames[40:]] == [41, 41]
    assert all(f.latency >= 0 for f in frames)


def test_frames_before_a_change_do_not_see_it(model, partner):
    """Causality: changing the partner from frame 22 on leaves every frame made before frame 22 arrived as it was."""
    changed = partner.copy()
    changed[22:, :, 0] += 0.4  # the partner steps aside
    # A short context, so that the windows (placed at their first partner frame) soon start after the change:
    # the untrained transformer ignores the partner's codes (its residual gates start at zero), but not where
    # the window puts the reaction.
    before, after = (reaction(model, p, seed=3, context_tokens=2) for p in (partner, changed))
    assert np.array_equal(before[:20], after[:20])  # frames 0..19 are made once frame 19 has arrived
    assert not np.array_equal(before[20:], after[20:])  # later ones do react


def test_same_seed_same_stream_however_it_is_chunked(model, partner):
    one_by_one = reaction(model, iter(partner), text="a hug", seed=5)
    chunks = [partner[i:i + 7] for i in range(0, 42, 7)]  # chunks that do not align with tokens
    assert np.array_equal(one_by_one, reaction(model, chunks, text="a hug", seed=5))
    assert np.array_equal(one_by_one, reaction(model, partner.tolist(), text="a hug", seed=5))  # plain lists
    assert not np.array_equal(one_by_one, reaction(model, partner, text="a hug", seed=6))


def test_context_and_memory_stay_bounded_on_a_long_stream(model):
    from intermask.settings import SamplingSettings, StreamSettings
    from intermask.streaming import ReactionStream

    joints, _ = random_person(seed=2, frames=240, walk=True, speed=0.8)  # walks ~6 m away from where it began
    seen, transformer = [], model.transformer
    predict = transformer.logits_at

    def watched(ids, *rest):  # the decoding loop's model call: record how many time tokens it is shown
        seen.append(ids.shape[-1])
        return predict(ids, *rest)

    transformer.logits_at = watched
    try:
        state = ReactionStream(model, "", 0, SamplingSettings(), StreamSettings(context_tokens=4))
        held = []
        for k in range(60):
            out = state.push(joints[4 * k:4 * k + 4])
            held.append(state.context_frames())
            assert np.isfinite(out).all()
    finally:
        del transformer.logits_at
    assert max(seen) == 4 and seen[-1] == 4  # the transformer never sees more than the window
    assert max(held) == 4 * 4 + 3 * 4 and held[-1] == held[10]  # partner's 4 tokens + the reaction's 3
    assert np.linalg.norm(out[-1, :3] - joints[-1, 0]) < 5  # the reaction follows the partner across the room


def _with_nan(p):
    bad = p[:6].copy()
    bad[5, 3, 1] = np.nan
    return list(bad)


BAD_STREAMS = {
    "NaN": (_with_nan, "frame 5 contains NaN"),
    "wrong shape": (lambda p: list(p[:2]) + [p[2, :21]], r"frame 2 has shape \(1, 21, 3\)"),
    "not numbers": (lambda p: list(p[:2]) + ["left foot"], "not an array of numbers"),
    "empty": (lambda p: [], "ended before its first frame"),
    "centimetres": (lambda p: list(p[:8] * 100), "not a person in metres"),
}


@pytest.mark.parametrize("case", BAD_STREAMS)
def test_bad_streams_end_with_a_sentence(model, partner, case):
    make, message = BAD_STREAMS[case]
    with pytest.raises(InterMaskError, match=message):
        list(model.react_stream(make(partner)))


def test_a_stalled_stream_ends_instead_of_hanging(model, partner):
    def stalls():
        yield from partner[:6]
        time.sleep(30)  # a source that stops sending without closing
        yield partner[6]

    start = time.perf_counter()
    made = []
    with pytest.raises(InterMaskError, match="No partner frame arrived for 0.5 s"):
        for frame in model.react_stream(stalls(), stall_timeout=0.5):
            made.append(frame.index)
    assert made == [0, 1, 2, 3]  # the whole token that arrived was still answered
    assert time.perf_counter() - start < 10


def test_a_failing_source_and_bad_settings_are_reported(model, partner):
    def broken():
        yield partner[0]
        raise InterMaskError("The sensor disconnected.")

    with pytest.raises(InterMaskError, match="sensor disconnected"):
        list(model.react_stream(broken()))
    with pytest.raises(InterMaskError, match="Context"):
        model.react_stream(partner, context_tokens=1)
    with pytest.raises(InterMaskError, match="iterable of partner frames"):
        model.react_stream("partner.npz")


def test_seams_are_measured_between_tokens():
    from intermask.metrics.seams import token_seams

    t = np.arange(24, dtype=float)
    smooth = np.zeros((24, 22, 3))
    smooth[:, :, 0] = 0.01 * t[:, None]  # constant velocity: no jump anywhere
    stepped = smooth.copy()
    stepped[8:, :, 0] += 0.05  # a 5 cm jump where token 2 starts
    seam, inside = token_seams(smooth, 4)
    assert len(seam) == 5 and np.allclose(seam, 0) and np.allclose(inside, 0)
    seam, inside = token_seams(stepped, 4)
    assert np.isclose(seam[1], 0.05) and np.allclose(np.delete(seam, 1), 0) and np.allclose(inside, 0)


def _cli(*args, stdin: str = "", cwd=None):
    import subprocess

    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "intermask", "react", *args], input=stdin, capture_output=True,
                          text=True, timeout=300, cwd=cwd or Path(__file__).resolve().parent.parent, env=env)


def test_command_line_streams_json_lines_and_replays_files(model, partner, tmp_path):
    import json

    ckpt = str(model.checkpoint_dir)
    lines = "\n".join(json.dumps(f.tolist()) for f in partner[:10]) + "\n"
    done = _cli("--partner", "-", "--checkpoint", ckpt, "--seed", "2", stdin=lines)
    assert done.returncode == 0, done.stderr
    frames = [np.array(json.loads(line)) for line in done.stdout.splitlines()]
    assert len(frames) == 10 and all(f.shape == (22, 3) for f in frames)
    # The command line and the API give the same frames (JSON keeps 5 decimals).
    api = reaction(model, partner[:10], seed=2)
    assert np.abs(np.stack(frames) - api).max() < 1e-4

    bad = _cli("--partner", "-", "--checkpoint", ckpt, stdin=lines.splitlines()[0] + "\n{oops\n")
    assert bad.returncode == 2 and "Line 2 of standard input is not JSON" in bad.stderr

    np.save(tmp_path / "partner.npy", partner)
    replay = _cli("--partner", str(tmp_path / "partner.npy"), "--stream", "--checkpoint", ckpt,
                  "--out", str(tmp_path / "out"))
    assert replay.returncode == 0, replay.stderr
    assert "latency after the needed partner frame" in replay.stderr
    from intermask.motion.interaction import load_interaction

    clip = load_interaction(tmp_path / "out" / "reaction.npz")
    assert clip.num_frames == 42 and clip.meta["mode"] == "react-stream"
    floor = partner[..., 1].min()  # files are read with their floor at y = 0
    np.testing.assert_allclose(clip.joints[0], partner - [0, floor, 0], atol=1e-5)  # the partner is kept
