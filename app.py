"""InterMask web demo: text → two-person interaction, side-by-side comparison, reactions and timelines.

A thin shell over ``intermask.api``: callbacks validate and translate inputs, call the API, render and package the
results. User mistakes come back as ``gr.Error`` sentences; the model is loaded once and shared (it is read-only).
Run ``python app.py`` (``--port``, ``--share`` and ``INTERMASK_CHECKPOINT`` are honoured).
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from intermask.errors import InterMaskError  # noqa: E402

try:  # Hugging Face ZeroGPU: run the heavy callbacks on a borrowed GPU; a no-op elsewhere.
    import spaces  # type: ignore

    gpu = spaces.GPU(duration=120)
except ImportError:
    def gpu(fn):
        return fn

log = logging.getLogger("intermask.app")
ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
WORK_DIR = Path(tempfile.gettempdir()) / "intermask-app"
KEEP_SECONDS = 3600
MAX_UPLOAD_MB = 50
EXAMPLES = [
    "two people shake hands with their right hands",
    "one person waves with the left hand twice and the other waves back",
    "two people hug each other",
    "the first person pushes the second person with both hands and the second stumbles back",
    "one person kicks with the right leg and the other jumps back",
    "two people walk toward each other, shake hands, then walk away",
    "two people dance holding hands and spin around",
    "one person gives an object to the other with the left hand",
]


# --------------------------------------------------------------------------------------------------------
# Model registry: loaded once, shared read-only by every request.
# --------------------------------------------------------------------------------------------------------
class Models:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, object] = {}

    @staticmethod
    def available() -> dict[str, Path]:
        from intermask.api import DEFAULT_CHECKPOINT

        found = {}
        env = os.environ.get("INTERMASK_CHECKPOINT")
        if env:
            found["custom"] = Path(env)
        base = DEFAULT_CHECKPOINT.parent
        for name, label in (("intermask", "word cross-attention"), ("intermask_adaln", "AdaLN only (baseline)")):
            if (base / name / "config.json").exists():
                found[label] = base / name
        return found

    def default_name(self) -> str:
        names = list(self.available())
        if not names:
            raise InterMaskError("No checkpoint found: the bundled model is missing from checkpoints/intersynth/.")
        return names[0]

    def get(self, name: str | None = None):
        from intermask.api import InterMask

        name = name or self.default_name()
        with self._lock:
            if name not in self._models:
                paths = self.available()
                if name not in paths:
                    raise InterMaskError(f"Unknown model {name!r}; available: {', '.join(paths)}.")
                self._models[name] = InterMask.from_pretrained(paths[name])
            return self._models[name]


MODELS = Models()


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------
def request_dir() -> Path:
    """A fresh directory per request; directories older than an hour are removed on the way."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in WORK_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
    return Path(tempfile.mkdtemp(dir=WORK_DIR))


def user_errors(fn):
    """Turn project errors into gr.Error sentences, and anything unexpected into a generic one (logged)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InterMaskError as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:  # the app must keep serving: report, log, carry on
            log.exception("request failed")
            raise gr.Error(f"Something went wrong on our side ({type(exc).__name__}). Please try again "
                           "with other settings; the error was logged.") from None

    return wrapped


def as_int(value, name: str, low: int, high: int) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InterMaskError(f"{name} must be a whole number between {low} and {high}; got {value!r}.") from None
    if v != int(v) or not low <= v <= high:
        raise InterMaskError(f"{name} must be a whole number between {low} and {high}; got {value!r}.")
    return int(v)


def tracker(progress: gr.Progress, start: float, end: float, label: str):
    def update(i: int, n: int) -> None:
        progress(start + (end - start) * i / max(n, 1), desc=f"{label} {i}/{n}")
    return update


def export_all(clip, out: Path, stem: str, style: str, views: int, progress=None,
               highlight_partner: bool = False) -> tuple[str, str, list[str]]:
    """Video, GLB and the download files of one interaction."""
    from intermask.motion.bvh import write_bvh
    from intermask.render import render_video
    from intermask.render.glb import write_glb

    files = [str(clip.save(out / f"{stem}.npz"))]
    files += [str(p) for p in _as_list(write_bvh(out / f"{stem}.bvh", clip))]
    files += [str(p) for p in _as_list(write_bvh(out / f"{stem}.bvh", clip, per_person=True))]
    glb = str(write_glb(clip, out / f"{stem}.glb"))
    video = str(render_video(clip, out / f"{stem}.mp4", style=style, views=views, caption=clip.text or None,
                             partner_highlight=highlight_partner, progress=progress))
    files += [glb, video]
    return video, glb, files


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def view_options(view: str) -> tuple[str, int]:
    style = "stick" if "stick" in (view or "").lower() else "mesh"
    views = 2 if "two" in (view or "").lower() else 1
    return style, views


VIEW_CHOICES = ["mesh, one view", "mesh, two views", "stick figures, one view", "stick figures, two views"]


# --------------------------------------------------------------------------------------------------------
# Callbacks (each is also a named API endpoint)
# --------------------------------------------------------------------------------------------------------
@gpu
@user_errors
def generate(prompt, seconds, samples, seed, cond_scale, time_steps, topk_ratio, temperature, foot_cleanup, view,
             progress=gr.Progress()):
    """Text → up to 4 interactions: (videos ×4, GLB of the first, download files)."""
    prompt = (prompt or "").strip()
    if not prompt:
        raise InterMaskError("Please type a description of the interaction (for example one of the examples).")
    samples = as_int(samples, "Number of samples", 1, 4)
    seed = as_int(seed, "Seed", 0, 2 ** 31 - 1)
    style, views = view_options(view)
    model = MODELS.get()
    clips = model.generate(prompt, seconds=seconds, num_samples=samples, seed=seed, cond_scale=cond_scale,
                           time_steps=time_steps, topk_ratio=topk_ratio, temperature=temperature,
                           foot_cleanup=bool(foot_cleanup), progress=tracker(progress, 0.0, 0.4, "generating"))
    out = request_dir()
    videos, files, glb = [], [], None
    for i, clip in enumerate(clips):
        video, g, f = export_all(clip, out, f"sample_{i:02d}", style, views,
                                 progress=tracker(progress, 0.4 + 0.6 * i / len(clips),
                                                  0.4 + 0.6 * (i + 1) / len(clips), f"rendering {i + 1}"))
        videos.append(video)
        files += f
        glb = glb or g
    videos += [None] * (4 - len(videos))
    return (*[gr.update(value=v, visible=v is not None) for v in videos], glb, files)


@gpu
@user_errors
def compare(mode, prompt_a, prompt_b, model_a, model_b, scale_a, scale_b, steps_a, steps_b, seconds, seed, view,
            progress=gr.Progress()):
    """Two results with the same seed: (video A, video B, side-by-side video, files)."""
    from intermask.render import side_by_side

    seed = as_int(seed, "Seed", 0, 2 ** 31 - 1)
    prompt_a = (prompt_a or "").strip()
    prompt_b = (prompt_b or "").strip() if mode == "two prompts" else prompt_a
    if not prompt_a or not prompt_b:
        raise InterMaskError("Please type a description for each side of the comparison.")
    if mode != "two models":
        model_a = model_b = MODELS.default_name()
    if mode != "two settings":
        scale_b, steps_b = scale_a, steps_a
    style, views = view_options(view)
    out = request_dir()
    results = []
    for side, (prompt, name, scale, steps) in enumerate(((prompt_a, model_a, scale_a, steps_a),
                                                         (prompt_b, model_b, scale_b, steps_b))):
        model = MODELS.get(name)
        [clip] = model.generate(prompt, seconds=seconds, seed=seed, cond_scale=scale, time_steps=steps,
                                progress=tracker(progress, 0.3 * side, 0.3 * side + 0.3, f"generating {'AB'[side]}"))
        results.append((clip, f"{name} · guidance {scale:g} · {int(steps)} steps"))
    videos, files = [], []
    for side, (clip, label) in enumerate(results):
        video, _, f = export_all(clip, out, f"side_{'AB'[side]}", style, views)
        videos.append(video)
        files += f
    both = str(side_by_side(videos[0], videos[1], out / "side_by_side.mp4"))
    return videos[0], videos[1], both, files + [both]


@gpu
@user_errors
def react(partner_file, prompt, seconds, seed, cond_scale, time_steps, topk_ratio, temperature, foot_cleanup, view,
          progress=gr.Progress()):
    """Upload person A → person B reacts: (video, GLB, files)."""
    if partner_file is None:
        raise InterMaskError("Please upload a partner motion (.npz, .npy or .bvh) or click one of the examples.")
    path = Path(partner_file if isinstance(partner_file, str) else getattr(partner_file, "name", partner_file))
    if path.exists() and path.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
        raise InterMaskError(f"The upload is {path.stat().st_size / 2 ** 20:.0f} MB; at most {MAX_UPLOAD_MB} MB "
                             "are accepted.")
    seed = as_int(seed, "Seed", 0, 2 ** 31 - 1)
    secs = None if seconds in (None, 0, "") else seconds
    style, views = view_options(view)
    model = MODELS.get()
    clip = model.react(path, text=(prompt or "").strip(), seconds=secs, seed=seed, cond_scale=cond_scale,
                       time_steps=time_steps, topk_ratio=topk_ratio, temperature=temperature,
                       foot_cleanup=bool(foot_cleanup), progress=tracker(progress, 0.0, 0.4, "reacting"))
    video, glb, files = export_all(clip, request_dir(), "reaction", style, views, highlight_partner=True,
                                   progress=tracker(progress, 0.4, 1.0, "rendering"))
    return video, glb, files


@gpu
@user_errors
def compose(timeline, seed, cond_scale, time_steps, view, progress=gr.Progress()):
    """Timeline rows (text, seconds) → one long interaction: (video, GLB, files)."""
    rows = _timeline_rows(timeline)
    seed = as_int(seed, "Seed", 0, 2 ** 31 - 1)
    style, views = view_options(view)
    model = MODELS.get()
    clip = model.compose(rows, seed=seed, cond_scale=cond_scale, time_steps=time_steps,
                         progress=tracker(progress, 0.0, 0.5, "composing"))
    return export_all(clip, request_dir(), "composition", style, views,
                      progress=tracker(progress, 0.5, 1.0, "rendering"))


def _timeline_rows(timeline) -> list[tuple[str, float]]:
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
        if not row or all(str(c).strip() in ("", "None", "nan") for c in row):
            continue
        if len(row) < 2:
            raise InterMaskError(f"Timeline row {i + 1} needs a text and a number of seconds.")
        text, secs = str(row[0]).strip(), row[1]
        try:
            secs = float(secs)
        except (TypeError, ValueError):
            raise InterMaskError(f"Timeline row {i + 1}: seconds must be a number; got {secs!r}.") from None
        rows.append((text, secs))
    if not rows:
        raise InterMaskError("The timeline is empty: add rows of text and seconds.")
    return rows


def about_text() -> str:
    lines = ["## About this demo", ""]
    try:
        model = MODELS.get()
        card = model.checkpoint_dir / "card.md"
        lines += [f"**Loaded checkpoint:** `{model.checkpoint_dir.relative_to(ROOT) if model.checkpoint_dir.is_relative_to(ROOT) else model.checkpoint_dir}`",
                  ""]
        if card.exists():
            lines += [card.read_text(), ""]
    except InterMaskError as exc:
        lines += [f"No model could be loaded: {exc}", ""]
    lines += [
        "**Training data, stated plainly:** the bundled model never saw real motion capture. It was trained on "
        "*InterSynth*, a procedural two-person interaction set this project generates (about twenty kinds of "
        "interaction with left/right, hand/leg and count variations). It follows such descriptions; free-form "
        "text far from them gives plausible but generic motion. Models trained on InterHuman or Inter-X (same "
        "scripts, `paper` configuration) load the same way.",
        "",
        "**Your own model:** `INTERMASK_CHECKPOINT=/path/to/checkpoint python app.py`, or in Python "
        "`InterMask.from_pretrained('/path/to/checkpoint')`.",
        "",
        "**API:** every button is a named endpoint (`/generate`, `/compare`, `/react`, `/compose`):",
        "```python",
        "from gradio_client import Client, handle_file",
        "client = Client(\"http://127.0.0.1:7860/\")",
        "result = client.predict(\"two people shake hands\", 3, 1, 0, 2.0, 20, 0.9, 1.0, False, \"mesh, one view\",",
        "                        api_name=\"/generate\")",
        "```",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------------
def sampling_controls(time_steps: int = 20):
    with gr.Accordion("Advanced", open=False):
        cond_scale = gr.Slider(0, 10, value=2.0, step=0.1, label="Guidance scale")
        steps = gr.Slider(1, 50, value=time_steps, step=1, label="Time steps")
        topk = gr.Slider(0, 0.99, value=0.9, step=0.01, label="Top-k ratio (fraction of codes dropped)")
        temperature = gr.Slider(0, 3, value=1.0, step=0.05, label="Temperature (0 = greedy)")
        foot = gr.Checkbox(value=False, label="Foot cleanup (lock feet during contacts)")
        view = gr.Radio(VIEW_CHOICES, value=VIEW_CHOICES[0], label="View")
    return cond_scale, steps, topk, temperature, foot, view


def seed_row(value: int = 0):
    with gr.Row():
        seed = gr.Number(value=value, precision=0, label="Seed", minimum=0)
        dice = gr.Button("🎲", scale=0, min_width=60)
    dice.click(lambda: random.randint(0, 2 ** 31 - 1), outputs=seed, api_name=False)
    return seed


def example_partners() -> list[list[str]]:
    return [[str(p)] for p in sorted((ASSETS / "partners").glob("*")) if p.suffix in (".npz", ".npy", ".bvh")]


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="InterMask — two-person interaction from text", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# 🤝 InterMask\nDescribe an interaction between two people, or upload one person's motion "
                    "and let the other react. Runs on the bundled CPU model trained on procedural data "
                    "(see *About*).")
        with gr.Tab("Generate"):
            with gr.Row():
                with gr.Column(scale=1):
                    prompt = gr.Textbox(label="Description", lines=2, max_lines=4, max_length=1000,
                                        placeholder="two people shake hands with their right hands")
                    gr.Examples(EXAMPLES, inputs=prompt)
                    seconds = gr.Slider(1, 10, value=3, step=0.5, label="Duration (seconds)")
                    samples = gr.Slider(1, 4, value=1, step=1, label="Number of samples")
                    seed = seed_row()
                    controls = sampling_controls()
                    run = gr.Button("Generate", variant="primary")
                with gr.Column(scale=2):
                    with gr.Row():
                        vids = [gr.Video(label=f"Sample {i + 1}", visible=i == 0, autoplay=True, loop=True,
                                         elem_id=f"gen-video-{i}") for i in range(2)]
                    with gr.Row():
                        vids += [gr.Video(label=f"Sample {i + 1}", visible=False, autoplay=True, loop=True,
                                          elem_id=f"gen-video-{i}") for i in range(2, 4)]
                    model3d = gr.Model3D(label="Interactive 3D (sample 1)", clear_color=[0.95, 0.95, 0.95, 1.0])
                    files = gr.File(label="Downloads (npz, BVH, GLB, MP4)", file_count="multiple")
            run.click(generate, [prompt, seconds, samples, seed, *controls], [*vids, model3d, files],
                      api_name="generate")
        with gr.Tab("Compare"):
            mode = gr.Radio(["two prompts", "two settings", "two models"], value="two prompts", label="Compare")
            with gr.Row():
                prompt_a = gr.Textbox(label="Description A", value="one person waves with the left hand")
                prompt_b = gr.Textbox(label="Description B (two prompts mode)",
                                      value="one person waves with the right hand")
            names = list(Models.available()) or ["(no model)"]
            with gr.Row():
                model_a = gr.Dropdown(names, value=names[0], label="Model A (two models mode)")
                model_b = gr.Dropdown(names, value=names[-1], label="Model B (two models mode)")
            with gr.Row():
                scale_a = gr.Slider(0, 10, value=2.0, step=0.1, label="Guidance A")
                scale_b = gr.Slider(0, 10, value=4.0, step=0.1, label="Guidance B (two settings mode)")
            with gr.Row():
                steps_a = gr.Slider(1, 50, value=20, step=1, label="Time steps A")
                steps_b = gr.Slider(1, 50, value=10, step=1, label="Time steps B (two settings mode)")
            with gr.Row():
                c_seconds = gr.Slider(1, 10, value=3, step=0.5, label="Duration (seconds)")
                c_seed = seed_row()
                c_view = gr.Radio(VIEW_CHOICES, value=VIEW_CHOICES[0], label="View")
            c_run = gr.Button("Compare", variant="primary")
            both = gr.Video(label="Side by side (in sync)", autoplay=True, loop=True)
            with gr.Row():
                video_a = gr.Video(label="A")
                video_b = gr.Video(label="B")
            c_files = gr.File(label="Downloads", file_count="multiple")
            c_run.click(compare, [mode, prompt_a, prompt_b, model_a, model_b, scale_a, scale_b, steps_a, steps_b,
                                  c_seconds, c_seed, c_view], [video_a, video_b, both, c_files], api_name="compare")
        with gr.Tab("Reaction"):
            with gr.Row():
                with gr.Column(scale=1):
                    partner = gr.File(label="Partner motion (.npz, .npy, .bvh; ≤ 50 MB)",
                                      file_types=[".npz", ".npy", ".bvh"], type="filepath")
                    if example_partners():
                        gr.Examples(example_partners(), inputs=partner, label="Example partners")
                    r_prompt = gr.Textbox(label="Description (optional)", max_length=1000,
                                          placeholder="the other person dodges")
                    r_seconds = gr.Slider(0, 10, value=0, step=0.5, label="Duration (0 = the partner's, ≤ 10 s)")
                    r_seed = seed_row()
                    r_controls = sampling_controls(time_steps=10)
                    r_run = gr.Button("React", variant="primary")
                with gr.Column(scale=2):
                    r_video = gr.Video(label="Reaction (uploaded partner in grey)", autoplay=True, loop=True)
                    r_model3d = gr.Model3D(label="Interactive 3D", clear_color=[0.95, 0.95, 0.95, 1.0])
                    r_files = gr.File(label="Downloads", file_count="multiple")
            r_run.click(react, [partner, r_prompt, r_seconds, r_seed, *r_controls], [r_video, r_model3d, r_files],
                        api_name="react")
            with gr.Accordion("Timeline: one long interaction from several descriptions (up to 60 s)", open=False):
                timeline = gr.Dataframe(
                    headers=["text", "seconds"], datatype=["str", "number"], row_count=(3, "dynamic"),
                    value=[["two people walk toward each other", 3], ["they shake hands", 3],
                           ["they walk away from each other", 3]], label="Timeline")
                with gr.Row():
                    t_seed = seed_row()
                    t_scale = gr.Slider(0, 10, value=2.0, step=0.1, label="Guidance scale")
                    t_steps = gr.Slider(1, 50, value=20, step=1, label="Time steps")
                    t_view = gr.Radio(VIEW_CHOICES, value=VIEW_CHOICES[0], label="View")
                t_run = gr.Button("Compose", variant="primary")
                t_video = gr.Video(label="Composition", autoplay=True, loop=True)
                t_model3d = gr.Model3D(label="Interactive 3D", clear_color=[0.95, 0.95, 0.95, 1.0])
                t_files = gr.File(label="Downloads", file_count="multiple")
                t_run.click(compose, [timeline, t_seed, t_scale, t_steps, t_view], [t_video, t_model3d, t_files],
                            api_name="compose")
        with gr.Tab("About"):
            gr.Markdown(about_text())
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="InterMask web demo")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--concurrency", type=int, default=2, help="requests processed at once")
    parser.add_argument("--share", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    MODELS.get()  # load once at start-up, so the first request does not pay for it
    demo = build_demo()
    demo.queue(default_concurrency_limit=args.concurrency, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                max_file_size=f"{MAX_UPLOAD_MB}mb", allowed_paths=[str(ASSETS)])


if __name__ == "__main__":
    main()
