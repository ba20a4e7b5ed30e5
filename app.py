"""InterMask web demo: text → two-person interaction, side-by-side comparison, reactions, timelines and edits.

A thin shell over ``intermask.api``: callbacks validate and translate inputs, call the API, render and package the
results (plumbing in ``intermask/demo_utils.py``). User mistakes come back as ``gr.Error`` sentences; the models are
loaded once at start-up and shared (they are read-only). Every button is also a named API endpoint.

    python app.py [--host 127.0.0.1] [--port 7860] [--concurrency 2] [--share]

Environment variables (INTERMASK_CHECKPOINT to serve your own checkpoint, video size, threads...): see
``intermask/environment.py`` or the README's table.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import logging
import os
import random
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from intermask import demo_utils as du  # noqa: E402
from intermask import environment  # noqa: E402
from intermask.errors import InterMaskError  # noqa: E402
from intermask.examples import TEXTS as EXAMPLE_TEXTS  # noqa: E402
from intermask.settings import REFINE, SamplingSettings  # noqa: E402
from intermask.motion.loaders import MAX_SECONDS as MAX_UPLOAD_SECONDS  # noqa: E402
from intermask.validation import MAX_COMPOSE_SECONDS, MAX_SECONDS, MIN_SECONDS  # noqa: E402

try:  # Hugging Face ZeroGPU: run the heavy callbacks on a borrowed GPU; a no-op everywhere else.
    import spaces  # type: ignore

    gpu = spaces.GPU(duration=120)
except ImportError:
    def gpu(fn):
        return fn

log = logging.getLogger("intermask.app")
SECOND_PASS = SamplingSettings.knob("second_pass")
ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
MAX_UPLOAD_MB = 50
MAX_SEED = 2 ** 31 - 1
EXAMPLES = EXAMPLE_TEXTS  # labelled, and scored by `python -m intermask.paraphrase --set examples`
MODELS = du.Models()


# --------------------------------------------------------------------------------------------------------
# Callbacks (each is also a named API endpoint)
# --------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _as_sentences(name: str):
    """Project errors become gr.Error sentences; anything unexpected a generic one (and a log entry)."""
    start = time.perf_counter()
    try:
        yield
        log.info("%s served in %.2f s", name, time.perf_counter() - start)
    except gr.Error:
        raise
    except InterMaskError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    except Exception as exc:  # the app must keep serving: report, log, carry on
        log.exception("request failed")
        raise gr.Error(f"Something went wrong on our side ({type(exc).__name__}). Please try again with "
                       "other settings; the error was logged.", print_exception=False) from None


def user_errors(fn):
    """Callbacks report errors as sentences; a generator (a streaming callback) stays one, so Gradio streams it."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streamed(*args, **kwargs):
            with _as_sentences(fn.__name__):
                yield from fn(*args, **kwargs)

        return streamed

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with _as_sentences(fn.__name__):
            return fn(*args, **kwargs)

    return wrapped


def tracker(progress: gr.Progress, start: float, end: float, label: str):
    """A progress(done, total) callback for the API that fills [start, end] of the Gradio progress bar."""
    def update(i: int, n: int) -> None:
        progress(start + (end - start) * i / max(n, 1), desc=f"{label} {i}/{n}")
    return update


def view_options(view) -> tuple[str, int]:
    """Widget view → (style, views); a mesh view on a server without OpenGL is served as stick figures."""
    style, views = du.view_options(view)
    if style == "mesh" and du.mesh_problem():
        gr.Warning("Body meshes are unavailable on this server, so the video shows stick figures "
                   "(the 3D view and the GLB download still show bodies).")
        style = "stick"
    return style, views


def _prompt(text, what: str = "description") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InterMaskError(f"Please type a {what} of the interaction (for example, click one of the examples).")
    return text.strip()


@gpu
@user_errors
def generate(prompt, seconds, samples, seed, cond_scale, time_steps, topk_ratio, temperature, foot_cleanup, view,
             refine=REFINE.default, second_pass=SECOND_PASS.default, progress=gr.Progress()):
    """Text → 1–4 interactions: (video ×4, None past the number of samples; GLB of sample 1; download files).

    ``refine`` and ``second_pass`` come last so that API callers written before they existed keep working (and
    get the defaults)."""
    prompt = _prompt(prompt)
    samples = du.as_int(samples, "Number of samples", 1, 4)
    seed = du.as_int(seed, "Seed", 0, MAX_SEED)
    style, views = view_options(view)
    progress(0.0, desc="generating")
    clips = MODELS.get().generate(prompt, seconds=seconds, num_samples=samples, seed=seed, cond_scale=cond_scale,
                                  time_steps=time_steps, topk_ratio=topk_ratio, temperature=temperature,
                                  second_pass=second_pass, foot_cleanup=bool(foot_cleanup), refine=bool(refine),
                                  progress=tracker(progress, 0.0, 0.3, "generating"))
    out = du.request_dir()
    results = []
    for i, clip in enumerate(clips):
        lo, hi = 0.3 + 0.7 * i / len(clips), 0.3 + 0.7 * (i + 1) / len(clips)
        results.append(du.export_all(clip, out, f"sample_{i + 1}", style, views,
                                     progress=tracker(progress, lo, hi, f"rendering sample {i + 1}:")))
    videos = [r.video for r in results] + [None] * (4 - len(results))
    return (*videos, results[0].glb, [f for r in results for f in r.files])


@gpu
@user_errors
def compare(mode, prompt_a, prompt_b, model_a, model_b, scale_a, scale_b, steps_a, steps_b, seconds, seed, view,
            progress=gr.Progress()):
    """Two results with the same seed: (video A, video B, side-by-side video, files)."""
    from intermask.render import side_by_side

    modes = ("two prompts", "two settings", "two models")
    if mode not in modes:
        raise InterMaskError(f"The comparison mode must be one of: {', '.join(modes)}; got {mode!r}.")
    seed = du.as_int(seed, "Seed", 0, MAX_SEED)
    prompt_a = _prompt(prompt_a, "description A")
    prompt_b = _prompt(prompt_b, "description B") if mode == "two prompts" else prompt_a
    if mode != "two models":
        model_a = model_b = MODELS.default_name()
    if mode != "two settings":
        scale_b, steps_b = scale_a, steps_a
    style, views = view_options(view)
    out = du.request_dir()
    sides = []
    for k, (prompt, name, scale, steps) in enumerate(((prompt_a, model_a, scale_a, steps_a),
                                                      (prompt_b, model_b, scale_b, steps_b))):
        [clip] = MODELS.get(name).generate(prompt, seconds=seconds, seed=seed, cond_scale=scale, time_steps=steps,
                                           progress=tracker(progress, 0.3 * k, 0.3 * k + 0.3, f"generating {'AB'[k]}"))
        clip.text = f"{'AB'[k]}: {name} · guidance {float(scale):g} · {int(steps)} steps · {prompt}"
        sides.append(clip)
    results = [du.export_all(clip, out, f"side_{'AB'[k]}", style, views,
                             progress=tracker(progress, 0.6 + 0.2 * k, 0.8 + 0.2 * k, f"rendering {'AB'[k]}"))
               for k, clip in enumerate(sides)]
    both = str(side_by_side(results[0].video, results[1].video, out / "side_by_side.mp4"))
    return results[0].video, results[1].video, both, results[0].files + results[1].files + [both]


@gpu
@user_errors
def react(partner_file, prompt, seconds, seed, cond_scale, time_steps, topk_ratio, temperature, foot_cleanup, view,
          refine=REFINE.default, progress=gr.Progress()):
    """Upload person A → person B reacts: (video, GLB, files). The text is optional here; only B is refined."""
    if not partner_file:
        raise InterMaskError("Please upload a partner motion (.npz, .npy or .bvh) or click one of the examples.")
    path = du.check_upload(Path(partner_file if isinstance(partner_file, str) else partner_file.name), MAX_UPLOAD_MB)
    seed = du.as_int(seed, "Seed", 0, MAX_SEED)
    style, views = view_options(view)
    secs = None if seconds in (None, "") or float(seconds) == 0 else seconds
    progress(0.0, desc="reading the partner motion")
    clip = MODELS.get().react(path, text=prompt or "", seconds=secs, seed=seed, cond_scale=cond_scale,
                              time_steps=time_steps, topk_ratio=topk_ratio, temperature=temperature,
                              foot_cleanup=bool(foot_cleanup), refine=bool(refine),
                              progress=tracker(progress, 0.0, 0.3, "reacting"))
    if not clip.text:
        clip.text = f"reaction to {path.name}"
    result = du.export_all(clip, du.request_dir(), "reaction", style, views, partner_highlight=True,
                           progress=tracker(progress, 0.3, 1.0, "rendering"))
    return result.video, result.glb, result.files


LIVE_VIEW_SIZE = 320  # px of the live view: small, so that a frame renders in a few milliseconds
LIVE_UPDATE_SECONDS = 0.2  # the live view is redrawn at most this often (about every other 4-frame step)


def live_status(frames: list, latencies: list[float], total: int, done: bool = False) -> str:
    """The live view's caption: progress and the measured latency of the reaction frames so far."""
    if not frames:
        return f"Streaming the partner's {total} frames at 30 fps…"
    ms = np.array(latencies) * 1000
    head = "Done" if done else "Live"
    return (f"**{head}:** {len(frames)} of {total} reaction frames. Latency from the partner frame a reaction "
            f"frame waits for to the frame being made: last {ms[-1]:.0f} ms, median {np.median(ms):.0f} ms, worst "
            f"{ms.max():.0f} ms (on top of the ≤ 3-frame, 100 ms lookahead).")


@user_errors
def react_live(partner_file, prompt, seed, cond_scale, topk_ratio, temperature):
    """Person B reacting live: the uploaded partner is replayed at 30 fps as a live stream and the reaction is
    drawn as it is made (stick figures, the partner in grey) with its measured latency; at the end the file."""
    from intermask.motion.interaction import Interaction
    from intermask.motion.loaders import load_partner
    from intermask.render.stick import StickRenderer
    from intermask.streaming import replay

    if not partner_file:
        raise InterMaskError("Please upload a partner motion (.npz, .npy or .bvh) or click one of the examples.")
    path = du.check_upload(Path(partner_file if isinstance(partner_file, str) else partner_file.name), MAX_UPLOAD_MB)
    seed = du.as_int(seed, "Seed", 0, MAX_SEED)
    motion = load_partner(path)
    a, total = motion.joints, motion.num_frames
    # The camera frames the partner's whole clip (known here, as it is a replay); B's frames fill in as they come.
    pair = Interaction(np.stack([a, a]), np.stack([motion.rot6d, motion.rot6d]))
    view = StickRenderer(pair, size=LIVE_VIEW_SIZE, partner_highlight=True)
    view.joints[1] = np.nan  # nothing of B until it is made
    yield None, live_status([], [], total), None  # at once: the request was accepted
    made, latencies, shown = [], [], 0.0
    start = time.perf_counter()
    stream = MODELS.get().react_stream(replay(a, start), text=prompt or "", seed=seed, cond_scale=cond_scale,
                                       topk_ratio=topk_ratio, temperature=temperature)
    for frame in stream:
        made.append(frame)
        latencies.append(time.perf_counter() - (start + frame.partner_frame / 30))
        view.joints[1, frame.index] = frame.joints
        if time.perf_counter() - shown >= LIVE_UPDATE_SECONDS:
            shown = time.perf_counter()
            yield view.frame(frame.index), live_status(made, latencies, total), None
    b = np.stack([f.joints for f in made])
    clip = Interaction(np.stack([a, b]), np.stack([motion.rot6d, np.stack([f.rot6d for f in made])]),
                       text=prompt or f"live reaction to {path.name}",
                       meta={"mode": "react-stream", "seed": seed, "partner": motion.source})
    npz = clip.save(du.request_dir() / "live_reaction.npz")
    yield view.frame(len(made) - 1), live_status(made, latencies, total, done=True), [str(npz)]


@gpu
@user_errors
def compose(timeline, seed, cond_scale, time_steps, view, progress=gr.Progress()):
    """Timeline rows (text, seconds) → one long interaction: (video, GLB, files)."""
    rows = du.timeline_rows(timeline)
    seed = du.as_int(seed, "Seed", 0, MAX_SEED)
    style, views = view_options(view)
    clip = MODELS.get().compose(rows, seed=seed, cond_scale=cond_scale, time_steps=time_steps,
                                progress=tracker(progress, 0.0, 0.4, "composing"))
    result = du.export_all(clip, du.request_dir(), "composition", style, views,
                           progress=tracker(progress, 0.4, 1.0, "rendering"))
    return result.video, result.glb, result.files


@gpu
@user_errors
def edit(motion_file, start, end, person, prompt, seed, cond_scale, time_steps, topk_ratio, temperature, foot_cleanup,
         view, refine=REFINE.default, second_pass=SECOND_PASS.default, progress=gr.Progress()):
    """An interaction with the span [start, end) s regenerated from a new description, for both people or one:
    (before-and-after video, GLB of the result, files). ``refine`` refines only the regenerated frames;
    ``second_pass`` applies only when both people are regenerated."""
    from intermask.motion.loaders import load_pair
    from intermask.render import CameraSettings, side_by_side
    from intermask.render.camera import auto_azimuth

    if not motion_file:
        raise InterMaskError("Please upload an interaction (.npz, .npy of shape (2, T, 22, 3) or a two-person .bvh) "
                             "or click \"Use the last result\".")
    path = du.check_upload(Path(motion_file if isinstance(motion_file, str) else motion_file.name), MAX_UPLOAD_MB)
    who = du.edit_person(person)
    seed = du.as_int(seed, "Seed", 0, MAX_SEED)
    style, views = view_options(view)
    progress(0.0, desc="reading the motion")
    before = load_pair(path)
    after = MODELS.get().edit(before, start=start, end=end, text=prompt or "", person=who, seed=seed,
                              cond_scale=cond_scale, time_steps=time_steps, topk_ratio=topk_ratio,
                              temperature=temperature, second_pass=second_pass, foot_cleanup=bool(foot_cleanup),
                              refine=bool(refine), progress=tracker(progress, 0.0, 0.3, "editing"))
    out = du.request_dir()
    caption_before, caption_after = du.edit_captions(before.text or path.name, start, end, who, after.text)
    camera = CameraSettings(azimuth=auto_azimuth(before.joints))  # one viewpoint, so the two halves compare
    video_before = du.render(before, out / "before.mp4", style, views, caption_before, camera,
                             tracker(progress, 0.3, 0.6, "rendering before"))
    result = du.export_all(after, out, "edit", style, views, caption=caption_after, camera=camera,
                           progress=tracker(progress, 0.6, 0.95, "rendering after"))
    both = str(side_by_side(video_before, result.video, out / "before_after.mp4"))
    return both, result.glb, result.files + [both]


def last_result(path):
    """"Use the last result": the interaction file of the latest Generate, Compare, Reaction, Timeline or Edit."""
    if not path:
        raise gr.Error("There is no result yet in this session: generate, react, compose or edit first, or upload "
                       "a file.", print_exception=False)
    return path


def span_limits(motion_file):
    """After an upload: the span sliders reach to the end of the clip, and a line says how long it is."""
    from intermask.motion.loaders import load_pair

    if not motion_file:
        return gr.update(), gr.update(), ""
    try:
        clip = load_pair(Path(motion_file if isinstance(motion_file, str) else motion_file.name))
    except InterMaskError as exc:
        return gr.update(), gr.update(), f"**Cannot edit this file:** {exc}"
    seconds = clip.num_frames / clip.fps
    return (gr.update(maximum=round(seconds, 2), value=round(seconds / 3, 1)),
            gr.update(maximum=round(seconds, 2), value=round(2 * seconds / 3, 1)),
            f"{seconds:.2f} s, {clip.num_frames} frames" + (f": *{clip.text}*" if clip.text else ""))


# --------------------------------------------------------------------------------------------------------
# About
# --------------------------------------------------------------------------------------------------------
def _settings_args(settings: SamplingSettings) -> str:
    """The four sampling settings every endpoint takes in this place, as positional arguments (the API example
    shows the defaults); the second pass, where an endpoint takes it, is its optional last argument."""
    names = ("cond_scale", "time_steps", "topk_ratio", "temperature")
    return ", ".join(repr(getattr(settings, name)) for name in names)


def about_text() -> str:
    lines = ["## About this demo", ""]
    names = list(MODELS.available())
    if not names:
        lines += ["**No model is loaded:** the bundled checkpoint is missing from `checkpoints/intersynth/`.", ""]
    for name in names:
        try:
            model = MODELS.get(name)
        except InterMaskError as exc:
            lines += [f"### Model: {name}", f"Could not be loaded: {exc}", ""]
            continue
        lines += [f"### Model: {name}", du.describe_model(model), ""]
        card = model.checkpoint_dir / "card.md"
        if card.exists():
            lines += ["<details><summary>Model card</summary>", "", card.read_text(), "", "</details>", ""]
    lines += [
        "### Training data, stated plainly",
        "The bundled models never saw real motion capture. They were trained on **InterSynth**, a procedural "
        "two-person interaction set this project generates (handshakes, high fives, hugs, waves, pushes, punches, "
        "kicks, dances, walking toward, past or around each other..., with left/right, hand/leg and count "
        "variations), because the real data sets (InterHuman, Inter-X) may not be redistributed. The models follow "
        "descriptions like the examples; free-form text far from them gives plausible but generic motion. Models "
        "trained on InterHuman or Inter-X with the same scripts (`paper` configuration) load the same way.",
        "",
        "### Your own model",
        "`INTERMASK_CHECKPOINT=/path/to/checkpoint python app.py` (add `INTERMASK_CHECKPOINT_B=...` for the "
        "two-models comparison), or in Python `InterMask.from_pretrained('/path/to/checkpoint')`.",
        "",
        "### API",
        "Every button is a named endpoint (`/generate`, `/compare`, `/react`, `/react_live`, `/compose`, `/edit`); see *Use via API* "
        "at the bottom of the page for every parameter.",
        "```python",
        "from gradio_client import Client, handle_file",
        "client = Client(\"http://127.0.0.1:7860/\")",
        "# prompt, seconds, samples, seed, guidance, time steps, top-k ratio, temperature, foot cleanup, view,",
        f"# refine (optional, default {REFINE.default}), second pass rounds (optional, default "
        f"{SECOND_PASS.default:g})",
        "v1, v2, v3, v4, glb, files = client.predict(\"They step forward and shake right hands.\", 3, 1, 0,",
        f"                                            {_settings_args(SamplingSettings())}, False, \"mesh, one view\",",
        "                                            api_name=\"/generate\")",
        "video, glb, files = client.predict(handle_file(\"assets/partners/punch_right.bvh\"), \"\", 0, 0,",
        f"                                   {_settings_args(SamplingSettings().for_reaction())}, False, "
        "\"mesh, one view\", api_name=\"/react\")",
        "# motion, start, end, who (both, A or B), new description, seed, settings, foot cleanup, view,",
        "# refine (optional: only the regenerated frames; kept frames stay exact), second pass (optional)",
        "before_after, glb, files = client.predict(handle_file(\"sample_1.npz\"), 1.0, 2.5, \"both\",",
        f"    \"Both people hug each other.\", 0, {_settings_args(SamplingSettings())}, False, \"mesh, one view\",",
        "    api_name=\"/edit\")",
        "```",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------------
def setting_slider(name: str, label: str, value: float | None = None, **kw) -> gr.Slider:
    """A slider over exactly the range the API accepts for one sampling setting (its default unless ``value``)."""
    knob = SamplingSettings.knob(name)
    return gr.Slider(knob.low, knob.slider_max, value=knob.default if value is None else value, step=knob.step,
                     label=label, **kw)


def seconds_slider(label: str = "Duration (seconds)", low: float = MIN_SECONDS, value: float = 3) -> gr.Slider:
    return gr.Slider(low, MAX_SECONDS, value=value, step=0.5, label=label)


def sampling_controls(settings: SamplingSettings = SamplingSettings(), second_pass: bool = True):
    """The Advanced panel; ``second_pass=False`` leaves out its slider (a reaction decodes one person, once)."""
    with gr.Accordion("Advanced", open=False):
        cond_scale = setting_slider("cond_scale", "Guidance scale", settings.cond_scale)
        steps = setting_slider("time_steps", "Time steps", settings.time_steps)
        topk = setting_slider("topk_ratio", "Top-k ratio (fraction of codes dropped)", settings.topk_ratio)
        temperature = setting_slider("temperature", "Temperature (0 = greedy)", settings.temperature)
        passes = [setting_slider("second_pass", "Second pass (rounds; 0 = off)", settings.second_pass,
                                 info="Decodes the second person again as a reaction to the first: follows the "
                                      "description a little more often, for these rounds on top of the time steps.")
                  ] if second_pass else []
        foot = gr.Checkbox(value=False, label="Foot cleanup (lock feet during contacts)")
        refine = refine_checkbox()
        view = view_radio()
    # Switches added after the first release go last in the endpoints' inputs, after the view, so older API calls
    # stay valid.
    return cond_scale, steps, topk, temperature, foot, view, refine, *passes


def refine_checkbox() -> gr.Checkbox:
    """The Advanced panel's refinement switch, with the API's default (settings.REFINE)."""
    return gr.Checkbox(value=REFINE.default, label=REFINE.label, info="Uncheck to see the raw model output.")


def view_radio() -> gr.Radio:
    problem = du.mesh_problem()
    info = f"Body meshes are unavailable on this server: {problem}" if problem else None
    return gr.Radio(du.view_choices(), value=du.default_view(), label="View", info=info)


def mesh_notice() -> str:
    """A line under the title when this server cannot render body meshes ("" when it can)."""
    if not du.mesh_problem():
        return ""
    return (f"\n\n**Videos show stick figures on this server:** body meshes need off-screen OpenGL, which is "
            f"not available here ({du.mesh_problem()}). The interactive 3D view and the GLB download still show "
            "bodies.")


def seed_row(value: int = 0):
    with gr.Row(equal_height=True):
        seed = gr.Number(value=value, precision=0, label="Seed", minimum=0, maximum=MAX_SEED, scale=4)
        dice = gr.Button("🎲", scale=0, min_width=60)
    dice.click(lambda: random.randint(0, MAX_SEED), outputs=seed, api_visibility="private")
    return seed


def example_partners() -> list[list[str]]:
    return [[str(p)] for p in sorted((ASSETS / "partners").glob("*")) if p.suffix in (".npz", ".npy", ".bvh")]


def _video(label: str, **kw) -> gr.Video:
    return gr.Video(label=label, autoplay=True, loop=True, format="mp4", **kw)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="InterMask — two-person interaction from text", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# 🤝 InterMask\nDescribe an interaction between two people, or upload one person's motion "
                    "and let the other react, or edit a span of any interaction. The bundled CPU model was trained "
                    "on procedural data (see *About*)." + mesh_notice(), elem_id="intro")
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                with gr.Column(scale=1):
                    prompt = gr.Textbox(label="Description", lines=2, max_lines=4, max_length=1000,
                                        placeholder=EXAMPLES[0], elem_id="gen-prompt")
                    gr.Examples([[e] for e in EXAMPLES], inputs=prompt, api_visibility="private")
                    seconds = seconds_slider()
                    samples = gr.Slider(1, 4, value=1, step=1, label="Number of samples")
                    seed = seed_row()
                    controls = sampling_controls()
                    run = gr.Button("Generate", variant="primary", elem_id="gen-run")
                with gr.Column(scale=2):
                    with gr.Row():
                        vids = [_video(f"Sample {i + 1}", visible=i == 0, elem_id=f"gen-video-{i}") for i in range(2)]
                    with gr.Row():
                        vids += [_video(f"Sample {i + 1}", visible=False, elem_id=f"gen-video-{i}")
                                 for i in range(2, 4)]
                    model3d = gr.Model3D(label="Interactive 3D (sample 1; drag to orbit)",
                                         clear_color=(0.95, 0.95, 0.95, 1.0))
                    files = gr.File(label="Downloads (npz, BVH combined and per person, GLB, MP4)",
                                    file_count="multiple")
            samples.change(lambda n: [gr.update(visible=i < int(n)) for i in range(4)], samples, vids,
                           api_visibility="private", show_progress="hidden")
            results = [(run.click(generate, [prompt, seconds, samples, seed, *controls], [*vids, model3d, files],
                                  api_name="generate"), files)]
        with gr.Tab("Compare", id="compare"):
            mode = gr.Radio(["two prompts", "two settings", "two models"], value="two prompts", label="Compare",
                            info="Both sides use the same seed; the side-by-side video plays them in sync.")
            with gr.Row():
                prompt_a = gr.Textbox(label="Description A", max_length=1000,
                                      value="One of them raises the left hand and waves twice to the other one.")
                prompt_b = gr.Textbox(label="Description B (two prompts mode)", max_length=1000,
                                      value="One of them raises the right hand and waves twice to the other one.")
            names = list(MODELS.available()) or ["(no model)"]
            with gr.Row():
                model_a = gr.Dropdown(names, value=names[0], label="Model A (two models mode)")
                model_b = gr.Dropdown(names, value=names[-1], label="Model B (two models mode)")
            with gr.Row():
                scale_a = setting_slider("cond_scale", "Guidance A")
                scale_b = setting_slider("cond_scale", "Guidance B (two settings mode)", 4.0)
            with gr.Row():
                steps_a = setting_slider("time_steps", "Time steps A")
                steps_b = setting_slider("time_steps", "Time steps B (two settings mode)", 10)
            with gr.Row():
                c_seconds = seconds_slider()
                with gr.Column():
                    c_seed = seed_row()
                c_view = view_radio()
            c_run = gr.Button("Compare", variant="primary", elem_id="cmp-run")
            both = _video("Side by side (A left, B right, in sync)", elem_id="cmp-both")
            with gr.Row():
                video_a = _video("A", elem_id="cmp-a")
                video_b = _video("B", elem_id="cmp-b")
            c_files = gr.File(label="Downloads", file_count="multiple")
            results.append((c_run.click(compare, [mode, prompt_a, prompt_b, model_a, model_b, scale_a, scale_b, steps_a,
                                            steps_b, c_seconds, c_seed, c_view], [video_a, video_b, both, c_files],
                                        api_name="compare"), c_files))
        with gr.Tab("Reaction", id="reaction"):
            with gr.Row():
                with gr.Column(scale=1):
                    partner = gr.File(label=f"Partner motion (.npz, .npy, .bvh; ≤ {MAX_UPLOAD_MB} MB)",
                                      file_types=[".npz", ".npy", ".bvh"], type="filepath", elem_id="react-partner")
                    if example_partners():
                        gr.Examples(example_partners(), inputs=partner, label="Example partners (click one)",
                                    api_visibility="private")
                    r_prompt = gr.Textbox(label="Description (optional)", max_length=1000,
                                          placeholder="the other one leans away to dodge")
                    r_seconds = seconds_slider(f"Duration (0 = the partner's, ≤ {MAX_SECONDS:g} s)", low=0, value=0)
                    r_seed = seed_row()
                    r_controls = sampling_controls(SamplingSettings().for_reaction(), second_pass=False)
                    r_run = gr.Button("React", variant="primary", elem_id="react-run")
                    r_live = gr.Button("Live: react as the partner plays", elem_id="react-live-run")
                with gr.Column(scale=2):
                    r_video = _video("Reaction (the uploaded partner in grey)", elem_id="react-video")
                    r_model3d = gr.Model3D(label="Interactive 3D", clear_color=(0.95, 0.95, 0.95, 1.0))
                    r_files = gr.File(label="Downloads", file_count="multiple")
                    with gr.Accordion("Live reaction", open=True):
                        live_view = gr.Image(label="Live: the partner replayed at 30 fps (grey), the reaction as it "
                                                   "is made (not refined)", type="numpy", format="png",
                                             interactive=False, elem_id="react-live-view")
                        live_info = gr.Markdown("Press *Live* to stream the partner frame by frame; the reaction "
                                                "follows with a lookahead of at most 3 frames (100 ms).",
                                                elem_id="react-live-status")
            results.append((r_run.click(react, [partner, r_prompt, r_seconds, r_seed, *r_controls],
                                        [r_video, r_model3d, r_files], api_name="react"), r_files))
            # Guidance, top-k and temperature from the Advanced panel; a stream takes no time steps or duration.
            results.append((r_live.click(react_live, [partner, r_prompt, r_seed, r_controls[0], r_controls[2],
                                                      r_controls[3]], [live_view, live_info, r_files],
                                         api_name="react_live"), r_files))
            with gr.Accordion("Timeline: one long interaction from several descriptions "
                              f"(up to {MAX_COMPOSE_SECONDS:g} s)", open=False):
                timeline = gr.Dataframe(
                    headers=["text", "seconds"], datatype=["str", "number"], row_count=3, column_count=2,
                    value=[["Both of them come at a slow pace toward each other and stop close together.", 3],
                           ["They step forward and shake right hands.", 3],
                           ["Both people turn around and leave each other.", 3]], label="Timeline")
                with gr.Row():
                    with gr.Column():
                        t_seed = seed_row()
                    t_scale = setting_slider("cond_scale", "Guidance scale")
                    t_steps = setting_slider("time_steps", "Time steps")
                    t_view = view_radio()
                t_run = gr.Button("Compose", variant="primary")
                t_video = _video("Composition")
                t_model3d = gr.Model3D(label="Interactive 3D", clear_color=(0.95, 0.95, 0.95, 1.0))
                t_files = gr.File(label="Downloads", file_count="multiple")
                results.append((t_run.click(compose, [timeline, t_seed, t_scale, t_steps, t_view],
                                            [t_video, t_model3d, t_files], api_name="compose"), t_files))
        with gr.Tab("Edit", id="edit"):
            gr.Markdown("Regenerate a time span of an interaction from a new description, for both people or only "
                        "one of them; everything else stays exactly as it was.")
            with gr.Row():
                with gr.Column(scale=1):
                    e_motion = gr.File(label=f"Interaction to edit (.npz, .npy (2, T, 22, 3), two-person .bvh; "
                                             f"≤ {MAX_UPLOAD_MB} MB)", file_types=[".npz", ".npy", ".bvh"],
                                       type="filepath", elem_id="edit-motion")
                    e_last = gr.Button("Use the last result", elem_id="edit-last")
                    e_info = gr.Markdown("", elem_id="edit-info")
                    with gr.Row():
                        e_start = gr.Slider(0, MAX_UPLOAD_SECONDS, value=1, step=0.1, label="Span start (s)",
                                            elem_id="edit-start")
                        e_end = gr.Slider(0, MAX_UPLOAD_SECONDS, value=2, step=0.1, label="Span end (s)",
                                          elem_id="edit-end")
                    e_person = gr.Radio(du.EDIT_PERSONS, value="both", label="Regenerate",
                                        info="One person: the other is kept in every frame.")
                    e_prompt = gr.Textbox(label="New description of the span", max_length=1000, lines=2,
                                          placeholder="Both people hug each other.", elem_id="edit-prompt")
                    e_seed = seed_row()
                    e_controls = sampling_controls()
                    e_run = gr.Button("Edit", variant="primary", elem_id="edit-run")
                with gr.Column(scale=2):
                    e_video = _video("Before (left) and after (right), in sync", elem_id="edit-video")
                    e_model3d = gr.Model3D(label="Interactive 3D (after)", clear_color=(0.95, 0.95, 0.95, 1.0))
                    e_files = gr.File(label="Downloads (npz, BVH combined and per person, GLB, MP4s)",
                                      file_count="multiple")
            e_motion.change(span_limits, e_motion, [e_start, e_end, e_info], api_visibility="private",
                            show_progress="hidden")
            results.append((e_run.click(edit, [e_motion, e_start, e_end, e_person, e_prompt, e_seed, *e_controls],
                                        [e_video, e_model3d, e_files], api_name="edit"), e_files))
        with gr.Tab("About", id="about"):
            gr.Markdown(about_text())
        # The latest result's interaction file, for "Use the last result" in Edit. A hidden textbox, not a gr.State:
        # with a State in the page Chromium never saw the network go idle (tests/test_app_browser.py).
        last = gr.Textbox(visible=False)
        for event, downloads in results:
            event.success(du.first_npz, downloads, last, api_visibility="private")
        e_last.click(last_result, last, e_motion, api_visibility="private")
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="InterMask web demo")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--concurrency", type=int, default=2, help="requests processed at once")
    parser.add_argument("--share", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    import torch

    # One intra-op thread per request: the models are small, requests run side by side (--concurrency), and on
    # a busy 2-core machine two OpenMP threads per request measured 5-15x slower than one.
    torch.set_num_threads(max(1, int(environment.get("INTERMASK_TORCH_THREADS"))))
    start = time.perf_counter()
    try:
        for name in MODELS.load_all():  # load once; one tiny generation pays torch's first-call costs now
            MODELS.get(name).generate("warm up", seconds=1, time_steps=1)
            log.info("model %r loaded and warmed up", name)
    except InterMaskError as exc:  # serve anyway: every request then explains what is missing
        log.error("%s", exc)
    log.info("models ready in %.1f s; renderer warmed up in %.1f s", time.perf_counter() - start, du.warm_up())
    if du.mesh_problem():
        log.warning("body-mesh videos are unavailable, serving stick figures: %s", du.mesh_problem())
    else:
        from intermask.render.gl import gl_status

        log.info("body-mesh videos: off-screen OpenGL %s", gl_status().describe())
    demo = build_demo()
    demo.queue(default_concurrency_limit=args.concurrency, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                max_file_size=f"{MAX_UPLOAD_MB}mb", allowed_paths=[str(ASSETS / "partners")])


if __name__ == "__main__":
    main()
