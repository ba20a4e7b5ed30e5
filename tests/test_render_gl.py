"""Off-screen OpenGL as a new user meets it: the platform choice, mesh rendering, and everything without GL.

Each scenario runs in a fresh interpreter, because PyOpenGL fixes its platform at first import and this test
process may have rendered already. ``PYOPENGL_PLATFORM`` is removed from those interpreters' environment, and
shared libraries are made unloadable there (``hide_libraries_code``) to stand for a machine without them.
The CI image has libEGL and Mesa's DRI drivers but no OSMesa, so "EGL only" is the machine a new user has.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import AppServer, hide_libraries_code, write_tiny_checkpoint
from intermask.render import choose_style, render_video
from intermask.render.sample import sample_interaction
from intermask.render.video import read_video

ROOT = Path(__file__).resolve().parent.parent
NO_GL = ("EGL", "OSMesa")


def run_python(code: str, *args: str, hide: tuple[str, ...] = (), env: dict | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-c", hide_libraries_code(hide) + code, *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def run_cli(*args: str, hide: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return run_python("import sys\nfrom intermask.cli import main\nsys.exit(main(sys.argv[1:]))\n", *args, hide=hide)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def frames_close(a: Path, b: Path) -> bool:
    fa, fb = read_video(a)[0], read_video(b)[0]
    return len(fa) == len(fb) and all(np.abs(x.astype(int) - y.astype(int)).mean() < 1.0 for x, y in zip(fa, fb))


# --------------------------------------------------------------------------------------------------------
# The platform choice on the machine CI and new users have
# --------------------------------------------------------------------------------------------------------
FRESH_MACHINE_RENDER = """
import json, os
from intermask.render import gl, render_frames
from intermask.render.sample import sample_interaction
from intermask.render.scene import PERSON_COLOURS
try:
    gl._open_library("OSMesa")
    osmesa_hidden = False
except gl._ProbeFailed:
    osmesa_hidden = True
status = gl.gl_status()
frames = list(render_frames(sample_interaction(frames=4), style="mesh", size=128))
bodies = []
for colour in PERSON_COLOURS:
    mask = gl.body_mask(frames[-1], colour)
    bodies.append({"pixels": int(mask.sum()), "x": float(mask.nonzero()[1].mean()) if mask.any() else -1.0})
print(json.dumps({"osmesa_hidden": osmesa_hidden, "platform": status.platform, "detail": status.detail,
                  "env": os.environ.get("PYOPENGL_PLATFORM"), "frames": len(frames),
                  "shape": list(frames[-1].shape), "bodies": bodies}))
"""


def test_without_osmesa_the_egl_device_is_chosen_and_two_bodies_render():
    """The regression of issue 12: EGL's default display needs a window system, pyrender's EGL device does not;
    an EGL-only machine must render meshes without PYOPENGL_PLATFORM set by hand."""
    out = last_json(run_python(FRESH_MACHINE_RENDER, hide=("OSMesa",)))
    assert out["osmesa_hidden"]
    assert out["platform"] == "egl" and out["env"] == "egl", out
    assert "device" in out["detail"]
    assert out["frames"] == 4 and out["shape"] == [128, 128, 3]
    a, b = out["bodies"]
    assert a["pixels"] > 500 and b["pixels"] > 500, out  # each body covers several percent of the frame
    assert abs(a["x"] - b["x"]) > 15, out  # two bodies side by side, not one body counted twice


STATUS = """
import json
from intermask.render import gl
s = gl.gl_status()
print(json.dumps({"available": s.available, "platform": s.platform, "reason": s.reason}))
"""


def test_an_explicit_platform_is_probed_and_its_failure_explained():
    out = last_json(run_python(STATUS, hide=("OSMesa",), env={"PYOPENGL_PLATFORM": "osmesa"}))
    assert not out["available"]
    assert out["reason"].startswith("PYOPENGL_PLATFORM=osmesa is set, but no libOSMesa.so library was found")
    out = last_json(run_python(STATUS, env={"PYOPENGL_PLATFORM": "egl"}))
    assert out["available"] and out["platform"] == "egl"


# --------------------------------------------------------------------------------------------------------
# No OpenGL at all: sentences and stick figures, never a crash
# --------------------------------------------------------------------------------------------------------
NO_GL_LIBRARY = """
import json
from intermask.errors import InterMaskError
from intermask.render import choose_style, gl, render_video
from intermask.render.sample import sample_interaction
notes = []
style = choose_style(None, note=notes.append)
try:
    render_video(sample_interaction(frames=4), "never.mp4", style="mesh", size=64)
    error = ""
except InterMaskError as exc:
    error = str(exc)
print(json.dumps({"reason": gl.gl_status().reason, "style": style, "notes": notes, "error": error}))
"""


def test_without_opengl_the_library_says_why_once(tmp_path):
    out = last_json(run_python(NO_GL_LIBRARY, hide=NO_GL))
    assert out["reason"].startswith("EGL: no libEGL.so library was found; OSMesa: no libOSMesa.so library")
    assert out["style"] == "stick" and len(out["notes"]) == 1 and out["reason"] in out["notes"][0]
    assert out["error"].startswith("Body-mesh rendering needs off-screen OpenGL, which is not available here")
    assert "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0" in out["error"]
    assert not (ROOT / "never.mp4").exists()


def test_without_opengl_the_commands_default_to_stick_figures_with_one_note(tmp_path):
    clip = sample_interaction(frames=6)
    motion = clip.save(tmp_path / "clip.npz")
    render_video(clip, tmp_path / "stick.mp4", style="stick", size=64)

    proc = run_cli("render", "--motion", str(motion), "--out", str(tmp_path / "default.mp4"), "--size", "64",
                   hide=NO_GL)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("note: rendering stick figures: body meshes need off-screen")
    assert frames_close(tmp_path / "default.mp4", tmp_path / "stick.mp4")

    proc = run_cli("render", "--motion", str(motion), "--out", str(tmp_path / "mesh.mp4"), "--style", "mesh",
                   hide=NO_GL)
    assert proc.returncode == 2 and not (tmp_path / "mesh.mp4").exists()
    assert proc.stderr.startswith("error: Body-mesh rendering needs off-screen OpenGL") and proc.stderr.count("\n") == 1

    checkpoint = write_tiny_checkpoint(tmp_path / "model")
    out = tmp_path / "generated"
    proc = run_cli("generate", "--text", "a hug", "--seconds", "1", "--time-steps", "1", "--checkpoint",
                   str(checkpoint), "--out", str(out), "--video", hide=NO_GL)
    assert proc.returncode == 0, proc.stderr
    assert sum(line.startswith("note: rendering stick figures") for line in proc.stderr.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["sample_00.mp4", "sample_00.npz"]

    proc = run_cli("generate", "--text", "a hug", "--seconds", "1", "--checkpoint", str(checkpoint), "--out",
                   str(tmp_path / "refused"), "--video", "--style", "mesh", hide=NO_GL)
    assert proc.returncode == 2 and "needs off-screen OpenGL" in proc.stderr
    assert not (tmp_path / "refused").exists()  # refused before generating, nothing half-written


def test_render_and_generate_share_the_default_style_which_is_mesh_here(tmp_path):
    from intermask.cli import build_parser

    parser = build_parser()
    render_args = parser.parse_args(["render", "--motion", "m.npz", "--out", "o.mp4"])
    generate_args = parser.parse_args(["generate", "--text", "a hug", "--out", "o", "--video"])
    assert render_args.style is None and generate_args.style is None
    notes = []
    assert choose_style(None, note=notes.append) == "mesh" and notes == []  # CI and new users have EGL

    from intermask.cli import main

    clip = sample_interaction(frames=4)
    motion = clip.save(tmp_path / "clip.npz")
    assert main(["render", "--motion", str(motion), "--out", str(tmp_path / "default.mp4"), "--size", "64"]) == 0
    render_video(clip, tmp_path / "mesh.mp4", style="mesh", size=64)
    render_video(clip, tmp_path / "stick.mp4", style="stick", size=64)
    assert frames_close(tmp_path / "default.mp4", tmp_path / "mesh.mp4")
    assert not frames_close(tmp_path / "default.mp4", tmp_path / "stick.mp4")


# --------------------------------------------------------------------------------------------------------
# The web demo without OpenGL
# --------------------------------------------------------------------------------------------------------
def test_the_app_starts_without_opengl_and_serves_stick_figures(tmp_path, monkeypatch):
    pytest.importorskip("gradio_client")
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)  # set in this process by earlier renders
    import urllib.request

    from gradio_client import Client

    with AppServer(tmp_path, video_size=96, hide_libraries=NO_GL) as server:
        with urllib.request.urlopen(server.url + "config", timeout=30) as r:
            config = json.loads(r.read())
        client = Client(server.url, verbose=False)
        try:
            results = {}
            for view in ("mesh, one view", "stick figures, one view"):
                results[view] = client.submit("They step forward and shake right hands.", 1, 1, 0, 2.0, 2, 0.9, 1.0,
                                              False, view, api_name="/generate").result(timeout=240)
        finally:
            client.close()
        log = server.log_path.read_text()

    assert log.count("body-mesh videos are unavailable, serving stick figures") == 1, log[-3000:]
    radios = [c["props"] for c in config["components"] if c.get("type") == "radio"
              and c["props"].get("label") == "View"]
    assert len(radios) == 5  # Generate, Compare, Reaction, Timeline, Edit
    for props in radios:
        labels = {value: label for label, value in props["choices"]}
        assert labels["mesh, one view"] == "mesh, one view (unavailable here: stick figures)"
        assert labels["stick figures, one view"] == "stick figures, one view"
        assert props["value"] == "stick figures, one view"
        assert props["info"].startswith("Body meshes are unavailable on this server: EGL: no libEGL.so")
    intro = next(c["props"]["value"] for c in config["components"] if c["props"].get("elem_id") == "intro")
    assert "Videos show stick figures on this server" in intro
    mesh, stick = results["mesh, one view"], results["stick figures, one view"]
    assert frames_close(Path(mesh[0]), Path(stick[0]))  # the mesh view was served as stick figures
    assert Path(mesh[4]).read_bytes()[:4] == b"glTF"  # the GLB needs no OpenGL and still has bodies
