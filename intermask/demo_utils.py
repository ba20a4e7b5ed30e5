"""Plumbing of the web demo (``app.py``) that is not layout: the shared model registry, per-request work
directories, exporting one result to every download format, and turning widget values into API arguments.

Kept apart from ``app.py`` so that the app file stays a readable description of the UI, and so that these
pieces can be tested without starting a server.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from intermask import environment
from intermask.errors import InterMaskError

WORK_DIR = Path(environment.get("INTERMASK_APP_TMP") or Path(tempfile.gettempdir()) / "intermask-app")
KEEP_SECONDS = 900  # Gradio copies every output into its own cache (cleared by Blocks.delete_cache)
BUNDLED = (("intermask", "word cross-attention (bundled)"), ("intermask_adaln", "AdaLN only (bundled baseline)"))
VIEW_CHOICES = ["mesh, one view", "mesh, two views", "stick figures, one view", "stick figures, two views"]
# Video height (and width per view) in pixels; tests and slow hosts lower it through the environment.
VIDEO_SIZE = int(environment.get("INTERMASK_VIDEO_SIZE"))
RENDER_DETAIL = environment.get("INTERMASK_RENDER_DETAIL")

# One mesh render at a time: off-screen GL contexts rendered from several threads at once gave slightly
# different pixels in our tests, and on a 2-core CPU parallel rendering gains nothing anyway.
RENDER_LOCK = threading.Lock()
_mesh_problem: str | None = None  # see mesh_problem(); None until first asked


# --------------------------------------------------------------------------------------------------------
# Models: loaded once, shared read-only by every request
# --------------------------------------------------------------------------------------------------------
class Models:
    """The checkpoints the demo offers, by display name, each loaded at most once per process.

    ``INTERMASK_CHECKPOINT`` (and ``INTERMASK_CHECKPOINT_B`` for a second model in the Compare tab) name
    transformer checkpoint directories; otherwise the bundled ones under ``checkpoints/intersynth/`` are used.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, object] = {}

    @staticmethod
    def available() -> dict[str, Path]:
        from intermask.api import DEFAULT_CHECKPOINT

        found: dict[str, Path] = {}
        for env, label in (("INTERMASK_CHECKPOINT", "custom"), ("INTERMASK_CHECKPOINT_B", "custom B")):
            if environment.get(env):
                found[label] = Path(environment.get(env))
        if not found:
            for name, label in BUNDLED:
                if (DEFAULT_CHECKPOINT.parent / name / "config.json").exists():
                    found[label] = DEFAULT_CHECKPOINT.parent / name
        return found

    def default_name(self) -> str:
        names = list(self.available())
        if not names:
            raise InterMaskError("No model is available: the bundled checkpoint is missing from "
                                 "checkpoints/intersynth/intermask, and INTERMASK_CHECKPOINT is not set.")
        return names[0]

    def get(self, name: str | None = None):
        from intermask.api import InterMask

        name = name or self.default_name()
        with self._lock:
            if name not in self._models:
                paths = self.available()
                if name not in paths:
                    raise InterMaskError(f"Unknown model {name!r}; available: {', '.join(paths) or 'none'}.")
                self._models[name] = InterMask.from_pretrained(paths[name])
            return self._models[name]

    def load_all(self) -> list[str]:
        """Load every available model now (start-up), so no request pays for loading."""
        names = list(self.available())
        for name in names:
            self.get(name)
        return names


def describe_model(model) -> str:
    """A short Markdown summary of a loaded model for the About tab."""
    cfg = model.info.get("config")
    lines = [f"- **Checkpoint:** `{model.checkpoint_dir}`", f"- **Text encoder:** `{model.text_encoder.name}`"]
    if cfg is not None:
        tr = cfg.transformer
        lines += [f"- **Transformer:** {tr.n_layers} Inter-M blocks, width {tr.latent_dim}, word cross-attention "
                  f"`{tr.word_xattn}`; VQ-VAE codebook of {cfg.vq.nb_code} codes",
                  f"- **Trained on:** `{cfg.data.dataset}` layout, configuration `{cfg.name}`"]
    return "\n".join(lines)


def warm_up() -> float:
    """Load the body mesh and render a few tiny frames once, at start-up; returns the seconds it took.

    Besides sparing the first request the cost, this matters for safety: the body cache in
    ``intermask.render.body`` is filled by native code (mesh decimation) that crashed the process when two
    threads filled it at the same time (the video and the GLB of one request, or two requests).
    The mesh frames are also the final test of off-screen OpenGL: if they fail, the demo serves stick
    figures and :func:`mesh_problem` says why, instead of the app failing to start.
    """
    global _mesh_problem
    from intermask.render import render_video
    from intermask.render.body import load_body
    from intermask.render.sample import sample_interaction

    start = time.perf_counter()
    load_body("mannequin", detail=RENDER_DETAIL)  # the GLB downloads need the body even without OpenGL
    clip = sample_interaction(frames=4)
    with tempfile.TemporaryDirectory() as tmp:
        if not mesh_problem():
            try:
                render_video(clip, Path(tmp) / "warm.mp4", style="mesh", size=64, detail=RENDER_DETAIL)
            except Exception as exc:  # noqa: BLE001 - whatever the GL stack raises, stick figures still work
                _mesh_problem = (str(exc) if isinstance(exc, InterMaskError)
                                 else f"a test render failed with {type(exc).__name__}: {exc}")
        if mesh_problem():
            render_video(clip, Path(tmp) / "warm.mp4", style="stick", size=64)
    return time.perf_counter() - start


def mesh_problem() -> str:
    """Why body-mesh videos cannot be rendered in this process ("" when they can).

    Decided by the OpenGL probe, then by :func:`warm_up`'s test render when the app starts.
    """
    global _mesh_problem
    if _mesh_problem is None:
        from intermask.render.gl import gl_status

        status = gl_status()
        _mesh_problem = "" if status.available else status.reason
    return _mesh_problem


def view_choices() -> list[tuple[str, str]]:
    """(label, value) pairs for the view widgets; mesh views are labelled unavailable when they are.

    The values stay the same either way, so API callers can send any of VIEW_CHOICES on every server.
    """
    unavailable = " (unavailable here: stick figures)" if mesh_problem() else ""
    return [(v + (unavailable if v.startswith("mesh") else ""), v) for v in VIEW_CHOICES]


def default_view() -> str:
    return next(v for v in VIEW_CHOICES if v.startswith("stick")) if mesh_problem() else VIEW_CHOICES[0]


# --------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------
def request_dir() -> Path:
    """A fresh directory per request; directories older than ``KEEP_SECONDS`` are removed on the way."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in WORK_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:  # removed by a concurrent request
            pass
    return Path(tempfile.mkdtemp(dir=WORK_DIR))


@dataclass
class Exported:
    video: str
    glb: str
    files: list[str]  # npz, combined BVH, per-person BVHs, GLB, MP4


def _write_files(clip, out: Path, stem: str) -> list[str]:
    from intermask.motion.bvh import write_bvh
    from intermask.render.glb import write_glb

    files = [str(clip.save(out / f"{stem}.npz"))]
    files += [str(p) for p in write_bvh(out / f"{stem}.bvh", clip)]
    files += [str(p) for p in write_bvh(out / f"{stem}.bvh", clip, per_person=True)]
    files.append(str(write_glb(clip, out / f"{stem}.glb", detail=RENDER_DETAIL)))
    return files


def render(clip, path: Path, style: str, views: int, caption: str | None = None, camera=None,
           progress: Callable[[int, int], None] | None = None, partner_highlight: bool = False,
           size: int | None = None) -> str:
    """One video at the demo's size and detail (mesh renders one at a time, see RENDER_LOCK)."""
    from intermask.render import render_video

    kwargs = dict(style=style, views=views, size=size or VIDEO_SIZE, caption=caption, camera=camera,
                  partner_highlight=partner_highlight, progress=progress, detail=RENDER_DETAIL)
    if style == "mesh":
        with RENDER_LOCK:
            return str(render_video(clip, path, **kwargs))
    return str(render_video(clip, path, **kwargs))


def export_all(clip, out: Path, stem: str, style: str, views: int, progress: Callable[[int, int], None] | None = None,
               partner_highlight: bool = False, size: int | None = None, caption: str | None = None,
               camera=None) -> Exported:
    """Video, animated GLB and every download file of one interaction (the caption defaults to its text).

    The exports (numpy and file writing) run in a worker thread while the video renders, which mostly waits
    in the GL rasteriser and the ffmpeg pipe.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        files = pool.submit(_write_files, clip, out, stem)
        video = render(clip, out / f"{stem}.mp4", style, views, caption or clip.text or None, camera, progress,
                       partner_highlight, size)
        written = files.result()
    glb = next(f for f in written if f.endswith(".glb"))
    return Exported(video, glb, written + [video])


def check_upload(path: Path, max_mb: int) -> Path:
    """Refuse a missing or oversized upload before anything reads it."""
    if not path.is_file():
        raise InterMaskError("The uploaded file could not be found; please upload it again.")
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise InterMaskError(f"The upload is {size / 2 ** 20:.0f} MB; at most {max_mb} MB are accepted.")
    return path


# --------------------------------------------------------------------------------------------------------
# Widget values → API arguments
# --------------------------------------------------------------------------------------------------------
def as_int(value, name: str, low: int, high: int) -> int:
    """A whole number in [low, high] from a widget (which may send 3.0, "3" or None)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InterMaskError(f"{name} must be a whole number between {low} and {high}; got {value!r}.") from None
    if not math.isfinite(v) or v != int(v) or not low <= v <= high:
        raise InterMaskError(f"{name} must be a whole number between {low} and {high}; got {value!r}.")
    return int(v)


def view_options(view: str | None) -> tuple[str, int]:
    """'mesh, two views' → ("mesh", 2). Anything not in VIEW_CHOICES is refused."""
    if view not in VIEW_CHOICES:
        raise InterMaskError(f"The view must be one of: {'; '.join(VIEW_CHOICES)}; got {view!r}.")
    return ("stick" if view.startswith("stick") else "mesh"), (2 if "two" in view else 1)


def timeline_rows(timeline, max_rows: int = 12) -> list[tuple[str, float]]:
    """Rows of a timeline table (a DataFrame, a {"data": ...} dict or a list of rows) → [(text, seconds)]."""
    if timeline is None:
        raise InterMaskError("The timeline is empty: add rows of text and seconds.")
    if hasattr(timeline, "values") and hasattr(timeline, "columns"):  # a pandas DataFrame
        raw = timeline.values.tolist()
    elif isinstance(timeline, dict) and "data" in timeline:
        raw = timeline["data"]
    else:
        raw = list(timeline)
    rows = []
    for i, row in enumerate(raw):
        cells = [str(c).strip() for c in (row or [])]
        if all(c in ("", "None", "nan") for c in cells):
            continue  # blank rows are what an editable table leaves behind
        if len(cells) < 2 or cells[0] in ("", "None", "nan"):
            raise InterMaskError(f"Timeline row {i + 1} needs a description and a number of seconds.")
        try:
            secs = float(row[1])
        except (TypeError, ValueError):
            raise InterMaskError(f"Timeline row {i + 1}: seconds must be a number; got {row[1]!r}.") from None
        rows.append((cells[0], secs))
    if not rows:
        raise InterMaskError("The timeline is empty: add rows of text and seconds.")
    if len(rows) > max_rows:
        raise InterMaskError(f"The timeline has {len(rows)} rows; at most {max_rows} are accepted.")
    return rows


# --------------------------------------------------------------------------------------------------------
# Edit tab
# --------------------------------------------------------------------------------------------------------
EDIT_PERSONS = [("both people", "both"), ("only person A (the first)", "A"), ("only person B (the second)", "B")]


def edit_person(choice) -> int | None:
    """The person widget's value → the API's ``person`` (None regenerates both)."""
    persons = {"both": None, "A": 0, "B": 1}
    if choice not in persons:
        raise InterMaskError(f"Who to regenerate must be one of: {', '.join(persons)}; got {choice!r}.")
    return persons[choice]


def first_npz(files) -> str | None:
    """The first interaction file (.npz) among a result's downloads: what "Use the last result" edits."""
    for f in files or []:
        path = str(getattr(f, "name", f))
        if path.endswith(".npz"):
            return path
    return None


def edit_captions(source: str, start: float, end: float, person: int | None, text: str) -> tuple[str, str]:
    """Captions of the before and after videos."""
    who = "both people" if person is None else f"person {'AB'[person]}"
    return (f"before: {source}" if source else "before",
            f"after: {float(start):g}-{float(end):g} s, {who}: {text or '(no text)'}")
