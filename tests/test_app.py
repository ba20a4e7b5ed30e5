"""The web demo end to end: ``app.py`` runs in a subprocess on 127.0.0.1 and every named endpoint is driven
through ``gradio_client``, as a user of the API would, including bad inputs and concurrent requests.

One server per module (tiny untrained checkpoints, 128-pixel videos, few decoding steps); each request is
bounded by a timeout. Unit tests of the plumbing in ``intermask/demo_utils.py`` come last (no server).
"""
from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from fixtures import AppServer, random_interaction
from intermask import demo_utils as du
from intermask.errors import InterMaskError
from intermask.motion.interaction import Interaction
from intermask.motion.loaders import load_partner
from intermask.render.video import read_video

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARTNERS = sorted(p for p in (ROOT / "assets" / "partners").iterdir() if p.suffix in (".npz", ".npy", ".bvh"))
SIZE = 128
STICK, MESH = "stick figures, one view", "mesh, one view"
TIMEOUT = 240  # seconds per request, generous for a loaded 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("app"), video_size=SIZE) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    client = Client(server.url, verbose=False)
    yield client
    client.close()


def generate_args(prompt="They step forward and shake right hands.", seconds=1, samples=1, seed=0, scale=2.0,
                  steps=3, topk=0.9, temperature=1.0, foot=False, view=STICK, refine=True):
    return [prompt, seconds, samples, seed, scale, steps, topk, temperature, foot, view, refine]


def call(client, *args, api_name):
    return client.submit(*args, api_name=api_name).result(timeout=TIMEOUT)


def video_shape(path) -> tuple[int, int, int]:
    frames, fps = read_video(path)
    assert fps == 30
    return len(frames), *frames[0].shape[:2]


def check_downloads(files, stem: str) -> Interaction:
    names = sorted(Path(f).name for f in files)
    assert names == sorted(f"{stem}{s}" for s in (".npz", ".bvh", "_A.bvh", "_B.bvh", ".glb", ".mp4"))
    by_name = {Path(f).name: Path(f) for f in files}
    assert by_name[f"{stem}.glb"].read_bytes()[:4] == b"glTF"
    for bvh in (f"{stem}.bvh", f"{stem}_A.bvh", f"{stem}_B.bvh"):
        assert by_name[bvh].read_text().startswith("HIERARCHY")
    clip = Interaction.load(by_name[f"{stem}.npz"])
    assert np.isfinite(clip.joints).all()
    return clip


# --------------------------------------------------------------------------------------------------------
# Every endpoint
# --------------------------------------------------------------------------------------------------------
def test_named_endpoints_and_about_tab(server, client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/generate", "/compare", "/react", "/react_live", "/compose", "/edit"}
    with urllib.request.urlopen(server.url + "config", timeout=10) as r:
        config = r.read().decode()
    for expected in ("InterSynth", "model_a", "INTERMASK_CHECKPOINT", "gradio_client"):
        assert expected in config, expected


def test_generate_two_samples_gives_videos_glb_and_downloads(client):
    *videos, glb, files = call(client, *generate_args(samples=2, seconds=2, seed=3), api_name="/generate")
    assert videos[2] is None and videos[3] is None  # only as many videos as samples
    assert [video_shape(v) for v in videos[:2]] == [(60, SIZE, SIZE)] * 2
    assert Path(glb).read_bytes()[:4] == b"glTF"
    clips = [check_downloads([f for f in files if Path(f).name.startswith(f"sample_{k}")], f"sample_{k}")
             for k in (1, 2)]
    assert clips[0].joints.shape == (2, 60, 22, 3) and clips[0].meta["seed"] == 3
    assert not np.allclose(clips[0].joints, clips[1].joints)  # two different samples
    # Same request, same seed → the same motion.
    *_, files_again = call(client, *generate_args(samples=2, seconds=2, seed=3), api_name="/generate")
    again = Interaction.load(next(f for f in files_again if f.endswith("sample_1.npz")))
    np.testing.assert_array_equal(again.joints, clips[0].joints)


def test_refine_is_on_by_default_and_the_advanced_panel_turns_it_off(client):
    from intermask.skeleton import bone_lengths

    def sample(args):
        *_, files = call(client, *args, api_name="/generate")
        return Interaction.load(next(f for f in files if f.endswith("sample_1.npz")))

    on, off = sample(generate_args(seed=2)), sample(generate_args(seed=2, refine=False))
    assert on.meta["refine"]["fixed"] == [] and "refine" not in off.meta
    lengths = bone_lengths(on.joints)  # (2, T, 21)
    assert (lengths.max(axis=1) - lengths.min(axis=1)).max() < 1e-3
    assert not np.allclose(on.joints, off.joints)
    # A call written before the switch existed (no refine argument at the end) gets the default: refined.
    older = sample(generate_args(seed=2)[:-1])
    np.testing.assert_array_equal(older.joints, on.joints)


def test_the_advanced_panel_second_pass_decodes_person_b_again(client):
    def sample(args):
        *_, files = call(client, *args, api_name="/generate")
        return Interaction.load(next(f for f in files if f.endswith("sample_1.npz")))

    off = sample(generate_args(seed=4, refine=False))  # a call without the argument: the default, off
    on = sample([*generate_args(seed=4, refine=False), 2])
    assert off.meta["second_pass"] == 0 and on.meta["second_pass"] == 2
    np.testing.assert_array_equal(on.joints[0], off.joints[0])  # person A is the first pass's
    assert not np.allclose(on.joints[1], off.joints[1])  # person B was decoded again


def test_generate_mesh_two_views(client):
    v0, *_, files = call(client, *generate_args(seconds=1, view="mesh, two views"), api_name="/generate")
    n, h, w = video_shape(v0)
    assert (n, h, w) == (30, SIZE, 2 * SIZE)
    frame = read_video(v0)[0][15]
    assert frame.std() > 10  # bodies on a floor, not a blank image


def test_compare_two_models_plays_side_by_side(client):
    a, b, both, files = call(client, "two models", "They step forward and shake right hands.", "", "custom",
                             "custom B", 2.0, 2.0, 3, 3, 1, 5, STICK, api_name="/compare")
    assert video_shape(a) == video_shape(b) == (30, SIZE, SIZE)
    assert video_shape(both) == (30, SIZE, 2 * SIZE)
    clip_a = check_downloads([f for f in files if "side_A" in Path(f).name], "side_A")
    clip_b = check_downloads([f for f in files if "side_B" in Path(f).name], "side_B")
    assert clip_a.text.startswith("A: custom ·") and clip_b.text.startswith("B: custom B ·")
    assert not np.allclose(clip_a.joints, clip_b.joints)  # two different models, same prompt and seed


def test_compare_two_settings_uses_the_same_seed_and_prompt(client):
    *_, files = call(client, "two settings", "Both people hug each other.", "ignored", "custom", "custom", 2.0, 0.0,
                     3, 2, 1, 11, STICK, api_name="/compare")
    a = Interaction.load(next(f for f in files if f.endswith("side_A.npz")))
    b = Interaction.load(next(f for f in files if f.endswith("side_B.npz")))
    assert a.meta["seed"] == b.meta["seed"] == 11
    assert (a.meta["cond_scale"], a.meta["time_steps"]) == (2.0, 3)
    assert (b.meta["cond_scale"], b.meta["time_steps"]) == (0.0, 2)


@pytest.mark.parametrize("partner", PARTNERS, ids=[p.name for p in PARTNERS])
def test_react_to_each_example_partner(client, partner):
    video, glb, files = call(client, handle_file(str(partner)), "", 1.5, 0, 2.0, 3, 0.9, 1.0, False, STICK,
                             api_name="/react")
    assert video_shape(video) == (45, SIZE, SIZE)
    clip = check_downloads(files, "reaction")
    expected = load_partner(partner).joints[:45]
    np.testing.assert_allclose(clip.joints[0], expected, atol=1e-5)  # the uploaded person is kept as given
    assert clip.meta["mode"] == "react" and clip.text.startswith("reaction to ")
    assert clip.meta["refine"]["fixed"] == [0]  # refined by default (no refine argument sent), B only


def test_react_duration_defaults_to_the_partner_length_and_renders_mesh(client):
    partner = ROOT / "assets" / "partners" / "punch_right.bvh"
    video, _, files = call(client, handle_file(str(partner)), "the other one ducks", 0, 1, 2.0, 2, 0.9, 1.0, True,
                           MESH, api_name="/react")
    frames = load_partner(partner).num_frames
    clip = Interaction.load(next(f for f in files if f.endswith(".npz")))
    assert video_shape(video)[0] == clip.num_frames and frames - 1 <= clip.num_frames <= frames
    assert clip.text == "the other one ducks"


def test_live_reaction_streams_views_with_latency_and_ends_with_the_file(client):
    partner = ROOT / "assets" / "partners" / "punch_right.bvh"
    job = client.submit(handle_file(str(partner)), "the other one ducks", 3, 2.0, 0.9, 1.0, api_name="/react_live")
    start = time.perf_counter()
    job.result(timeout=TIMEOUT)
    updates = job.outputs()
    frames = load_partner(partner).num_frames
    assert "Streaming the partner" in updates[0][1]  # answered at once
    live = [u for u in updates[1:-1] if u[0] is not None]
    assert len(live) >= 2 and all("Latency" in u[1] for u in live)  # drawn several times while it was made
    image, status, files = updates[-1]
    assert status.startswith(f"**Done:** {frames} of {frames} reaction frames")
    clip = Interaction.load(files[0])
    assert clip.num_frames == frames and clip.meta["mode"] == "react-stream"
    np.testing.assert_allclose(clip.joints[0], load_partner(partner).joints, atol=1e-5)  # partner as given
    assert time.perf_counter() - start >= frames / 30 - 0.5  # replayed at 30 fps, not faster


def test_compose_timeline(client):
    table = {"headers": ["text", "seconds"], "data": [["Both people hug each other.", 1.5], ["", None],
                                                       ["Both people turn around and leave each other.", 1.5]]}
    video, glb, files = call(client, table, 0, 2.0, 2, STICK, api_name="/compose")
    clip = check_downloads(files, "composition")
    assert clip.num_frames == 88 and video_shape(video)[0] == 88  # 2 × 1.5 s, each rounded to 11 tokens of 4 frames
    assert clip.meta["timeline"] == [["Both people hug each other.", 1.5],
                                     ["Both people turn around and leave each other.", 1.5]]


def edit_args(motion, start=0.5, end=1.5, person="both", prompt="Both people hug each other.", seed=0, steps=3,
              view=STICK):
    return [motion, start, end, person, prompt, seed, 2.0, steps, 0.9, 1.0, False, view]


def test_edit_one_person_plays_before_and_after_and_keeps_the_other(client, tmp_path):
    source = random_interaction(seed=3, frames=60, text="two people shake hands.")
    path = source.save(tmp_path / "source.npz")
    both, glb, files = call(client, *edit_args(handle_file(str(path)), person="B", prompt="the other one ducks"),
                            api_name="/edit")
    assert video_shape(both) == (60, SIZE, 2 * SIZE)  # before on the left, after on the right, frame by frame
    assert Path(glb).read_bytes()[:4] == b"glTF"
    assert "before_after.mp4" in [Path(f).name for f in files]
    edited = check_downloads([f for f in files if Path(f).name.startswith("edit")], "edit")
    np.testing.assert_array_equal(edited.joints[0], source.joints[0])  # through upload and download, bit for bit
    keep = np.r_[0:15, 45:60]
    np.testing.assert_array_equal(edited.joints[1, keep], source.joints[1, keep])
    assert edited.meta["span_frames"] == [15, 45] and edited.text == "the other one ducks"


def test_bad_edit_requests_are_sentences(client, tmp_path):
    path = handle_file(str(random_interaction(seed=4, frames=60).save(tmp_path / "two_seconds.npz")))
    for args, message in [
        (edit_args(None), "Please upload an interaction"),
        (edit_args(path, end=5), r"not inside the clip, which lasts 2.00 s \(accepted: 0 ≤ start < end ≤ 2.00 s"),
        (edit_args(path, start=1.0, end=1.1), "at least one token"),
        (edit_args(path, start=0, end=2, prompt=""), "nothing is kept"),
        (edit_args(path, person="C"), "not in the list of choices"),
        (edit_args(handle_file(str(PARTNERS[0]))), "editing needs two|Accepted: an .npz interaction file"),
    ]:
        with pytest.raises(AppError, match=message):
            call(client, *args, api_name="/edit")


# --------------------------------------------------------------------------------------------------------
# Bad input: a sentence each, and the app keeps serving
# --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    np.save(d / "pickled.npy", np.array([{"not": "motion"}], dtype=object), allow_pickle=True)
    (d / "notes.bvh").write_text("these are my notes, not a motion capture file\n" * 20)
    joints = load_partner(PARTNERS[0]).joints.copy()
    joints[10:20, 3] = np.nan
    np.save(d / "nan.npy", joints)
    np.save(d / "centimetres.npy", 100.0 * load_partner(PARTNERS[0]).joints[:30])
    with open(d / "absurd.npy", "wb") as fh:  # a 1 kB file whose header claims 10^12 frames
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12, 22, 3)})
        fh.write(b"\0" * 1000)
    return d


BAD_GENERATE = {
    "empty prompt": (dict(prompt="   "), "Please type a description"),
    "10,000 characters": (dict(prompt="a" * 10_000), "at most 1000"),
    "duration above the slider": (dict(seconds=60), "greater than maximum value 10"),
    "samples above the slider": (dict(samples=9), "greater than maximum value 4"),
    "zero time steps": (dict(steps=0), "less than minimum value 1"),
    "negative guidance": (dict(scale=-1), "less than minimum value 0"),
    "top-k ratio above 0.99": (dict(topk=1.5), "greater than maximum value 0.99"),
    "negative seed": (dict(seed=-5), "less than minimum value 0"),
    "unknown view": (dict(view="hologram"), "not in the list of choices"),
}


@pytest.mark.parametrize("case", BAD_GENERATE, ids=list(BAD_GENERATE))
def test_bad_generate_inputs_are_sentences(client, case):
    kwargs, message = BAD_GENERATE[case]
    with pytest.raises(AppError, match=message):
        call(client, *generate_args(**kwargs), api_name="/generate")


@pytest.mark.parametrize("name, message", [
    ("pickled.npy", "pickled arrays are never loaded"),
    ("notes.bvh", "not a valid BVH file"),
    ("nan.npy", "NaN or Inf"),
    ("centimetres.npy", "centimetres"),
    ("absurd.npy", r"claims the shape \(1000000000000, 22, 3\)"),
])
def test_bad_partner_files_are_sentences(client, bad_files, name, message):
    with pytest.raises(AppError, match=message):
        call(client, handle_file(str(bad_files / name)), "", 0, 0, 2.0, 3, 0.9, 1.0, False, STICK, api_name="/react")


def test_other_bad_requests_are_sentences(client):
    with pytest.raises(AppError, match="description B"):
        call(client, "two prompts", "a wave", " ", "custom", "custom", 2.0, 2.0, 3, 3, 1, 0, STICK, api_name="/compare")
    with pytest.raises(AppError, match="not in the list of choices"):
        call(client, "two models", "a wave", "", "custom", "nobody", 2.0, 2.0, 3, 3, 1, 0, STICK, api_name="/compare")
    with pytest.raises(AppError, match="Timeline row 1 needs a description"):
        call(client, {"headers": ["text", "seconds"], "data": [["", 2]]}, 0, 2.0, 3, STICK, api_name="/compose")
    with pytest.raises(AppError, match="at most 60 s"):
        call(client, {"headers": ["text", "seconds"], "data": [["a hug", 30], ["a wave", 30], ["a push", 5]]}, 0,
             2.0, 3, STICK, api_name="/compose")
    with pytest.raises(AppError, match="Please upload a partner motion"):
        call(client, None, "", 0, 0, 2.0, 3, 0.9, 1.0, False, STICK, api_name="/react")


def test_a_200_mb_upload_is_refused(server, client, tmp_path):
    big = tmp_path / "huge.npy"
    with open(big, "wb") as f:  # sparse: takes no disk space
        f.truncate(200 * 2 ** 20)
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # the client checks first...
        call(client, handle_file(str(big)), "", 0, 0, 2.0, 3, 0.9, 1.0, False, STICK, api_name="/react")
    # ...and the server refuses the raw upload too, with a 413 and a sentence.
    boundary = "intermask-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"huge.npy\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + b"\0" * (51 * 2 ** 20) + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(server.url + "gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=120)
    assert err.value.code == 413 and "maximum" in err.value.read().decode().lower()


def test_still_serving_after_bad_inputs_and_four_concurrent_requests(client):
    """Four requests at once (two mesh, two stick; the queue runs two at a time): all succeed, each as if alone."""
    jobs = [client.submit(*generate_args(seed=s, view=MESH if s % 2 else STICK), api_name="/generate")
            for s in range(4)]
    start = time.monotonic()
    results = [job.result(timeout=TIMEOUT * 2) for job in jobs]
    assert time.monotonic() - start < TIMEOUT * 2
    clips = [Interaction.load(next(f for f in r[-1] if f.endswith(".npz"))) for r in results]
    assert [c.meta["seed"] for c in clips] == [0, 1, 2, 3]
    assert all(video_shape(r[0]) == (30, SIZE, SIZE) for r in results)
    alone = call(client, *generate_args(seed=1, view=MESH), api_name="/generate")
    np.testing.assert_array_equal(Interaction.load(next(f for f in alone[-1] if f.endswith(".npz"))).joints,
                                  clips[1].joints)
    # The same picture. Not bit-identical: float round-off under concurrent load (BLAS threading) can move an
    # edge pixel, and the lossy H.264 encoder then spreads tiny differences over the frame.
    diff = np.abs(read_video(alone[0])[0][20].astype(int) - read_video(results[1][0])[0][20].astype(int))
    assert diff.mean() < 3 and (diff > 40).mean() < 0.01, (diff.mean(), (diff > 40).mean())


# --------------------------------------------------------------------------------------------------------
# Plumbing without a server
# --------------------------------------------------------------------------------------------------------
def test_old_request_directories_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(du, "WORK_DIR", tmp_path)
    old, recent = tmp_path / "old", tmp_path / "recent"
    old.mkdir(), recent.mkdir()
    (old / "x.mp4").write_bytes(b"0")
    past = time.time() - du.KEEP_SECONDS - 60
    os.utime(old, (past, past))
    fresh = du.request_dir()
    assert fresh.parent == tmp_path and fresh.is_dir()
    assert not old.exists() and recent.exists()


def test_edit_widgets_become_api_arguments():
    assert [du.edit_person(v) for _, v in du.EDIT_PERSONS] == [None, 0, 1]
    with pytest.raises(InterMaskError, match="must be one of: both, A, B"):
        du.edit_person("everyone")
    assert du.first_npz(["/x/sample_1.mp4", "/x/sample_1.npz", "/x/sample_2.npz"]) == "/x/sample_1.npz"
    assert du.first_npz(None) is None


def test_widget_values_become_api_arguments():
    assert du.view_options("stick figures, two views") == ("stick", 2)
    assert du.view_options("mesh, one view") == ("mesh", 1)
    assert du.as_int(3.0, "Seed", 0, 10) == 3
    for bad in (3.5, "x", None, float("nan"), 11):
        with pytest.raises(InterMaskError, match="whole number between 0 and 10"):
            du.as_int(bad, "Seed", 0, 10)
    rows = du.timeline_rows([["a hug", "2"], [None, None], ["a wave", 1.5]])
    assert rows == [("a hug", 2.0), ("a wave", 1.5)]
    with pytest.raises(InterMaskError, match="seconds must be a number"):
        du.timeline_rows([["a hug", "soon"]])


def test_edit_tab_helpers_fill_the_span_and_the_last_result(tmp_path):
    import gradio as gr

    import app

    path = random_interaction(seed=5, frames=90, text="two people hug.").save(tmp_path / "three_seconds.npz")
    start, end, info = app.span_limits(str(path))
    assert (start["maximum"], start["value"], end["maximum"], end["value"]) == (3.0, 1.0, 3.0, 2.0)
    assert info == "3.00 s, 90 frames: *two people hug.*"
    (tmp_path / "notes.npy").write_text("not an array")
    *_, info = app.span_limits(str(tmp_path / "notes.npy"))
    assert info.startswith("**Cannot edit this file:**") and "not a numpy" in info
    assert app.last_result(str(path)) == str(path)
    with pytest.raises(gr.Error, match="no result yet"):
        app.last_result(None)
