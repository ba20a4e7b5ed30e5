"""Web demo latency: end-to-end seconds per request and cold start, measured as a user of the API sees them.

    python bench/bench_app.py [--runs 5] [--checkpoint DIR] [--sizes 384 512] [--out bench/RESULTS-app.md]

- **Cold start**: from spawning ``python app.py`` to the first HTTP 200 (imports, model loading, renderer
  warm-up, server start), and to the first /generate request answered.
- **End to end**: ``gradio_client`` → /generate (3 s clip, 1 sample, mesh video, one view, 20 time steps) →
  the answer with the video, GLB and downloads fetched: the median of ``--runs`` requests after the first.
- **Split**: the same request in-process (no server): generation, then video + exports, so the server
  overhead is the difference.

The model is the bundled checkpoint when it exists, else a tiny untrained test checkpoint (plumbing speed
only: the generation share is then too small). Medians and the machine's load go into the results file.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from machine import describe  # noqa: E402  (bench/machine.py)

PROMPT = "They step forward and shake right hands."


def request_args(view: str = "mesh, one view") -> list:
    # prompt, seconds, samples, seed, guidance, time steps, top-k ratio, temperature, foot cleanup, view
    return [PROMPT, 3, 1, 0, 2.0, 20, 0.9, 1.0, False, view]



def served(checkpoint: Path, size: int, runs: int, work: Path) -> dict:
    from gradio_client import Client

    from fixtures import AppServer

    t0 = time.perf_counter()
    with AppServer(work, video_size=size, checkpoints=(checkpoint,), timeout=600) as server:
        client = Client(server.url, verbose=False)
        t = time.perf_counter()
        client.predict(*request_args(), api_name="/generate")
        first_request = time.perf_counter() - t
        cold = time.perf_counter() - t0
        times = []
        for seed in range(runs):  # fixed count; each request is bounded by the server's own work
            args = request_args()
            args[3] = seed + 1
            t = time.perf_counter()
            client.predict(*args, api_name="/generate")
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        client.predict(*request_args("stick figures, one view"), api_name="/generate")
        stick = time.perf_counter() - t
        client.close()  # stop its heartbeat thread before the server goes away
    return {"startup": server.startup_seconds, "cold": cold, "first_request": first_request, "times": times,
            "stick": stick}


def in_process(checkpoint: Path, size: int, runs: int) -> dict:
    from intermask import demo_utils as du
    from intermask.api import InterMask

    import torch

    torch.set_num_threads(max(1, int(os.environ.get("INTERMASK_TORCH_THREADS", "1"))))  # as the app does
    model = InterMask.from_pretrained(checkpoint)
    model.generate(PROMPT, seconds=1, time_steps=1)  # torch's first-call costs, as the app pays at start-up
    du.warm_up()
    gen, render = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(runs):
            t = time.perf_counter()
            [clip] = model.generate(PROMPT, seconds=3, seed=seed, time_steps=20)
            t1 = time.perf_counter()
            du.export_all(clip, Path(tmp), f"s{seed}", "mesh", 1, size=size)
            gen.append(t1 - t)
            render.append(time.perf_counter() - t1)
    return {"generate": statistics.median(gen), "render_export": statistics.median(render)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--note", default="", help="what the given checkpoint is, for the results file")
    parser.add_argument("--sizes", type=int, nargs="+", default=[384, 512])
    parser.add_argument("--out", type=Path, default=None, help="append a results section to this Markdown file")
    args = parser.parse_args()

    from intermask.api import DEFAULT_CHECKPOINT

    work = Path(tempfile.mkdtemp(prefix="bench_app_"))
    checkpoint, model_note = args.checkpoint, args.note or f"checkpoint {args.checkpoint}"
    if checkpoint is None and (DEFAULT_CHECKPOINT / "config.json").exists():
        checkpoint, model_note = DEFAULT_CHECKPOINT, "bundled checkpoint"
    if checkpoint is None:
        from fixtures import write_tiny_checkpoint

        checkpoint, model_note = write_tiny_checkpoint(work / "tiny"), "tiny untrained test checkpoint"
    load = os.getloadavg()[0]
    rows = []
    for size in args.sizes:
        p = in_process(checkpoint, size, args.runs)  # first: nothing else of ours is running yet
        s = served(checkpoint, size, args.runs, work / f"served_{size}")
        rows.append((size, s, p))
        print(f"{size}px: end-to-end median {statistics.median(s['times']):.2f} s (runs "
              f"{', '.join(f'{x:.2f}' for x in s['times'])}); cold start {s['cold']:.1f} s "
              f"(HTTP up {s['startup']:.1f} s + first request {s['first_request']:.1f} s); in-process generate "
              f"{p['generate']:.2f} s + video/exports {p['render_export']:.2f} s; stick request {s['stick']:.2f} s",
              flush=True)
    if args.out:
        lines = [f"\n### {time.strftime('%Y-%m-%d %H:%M')} · {model_note} · {args.runs} runs per size\n",
                 f"{describe()} · load average at start {load:.2f}\n",
                 "| video size | end-to-end median s | runs s | stick-figure request s | cold start s (HTTP up + "
                 "first request) | in-process: generate s | in-process: video + exports s |",
                 "|---|---|---|---|---|---|---|"]
        for size, s, p in rows:
            lines.append(f"| {size}² | {statistics.median(s['times']):.2f} | "
                         f"{', '.join(f'{x:.2f}' for x in s['times'])} | {s['stick']:.2f} | {s['cold']:.1f} "
                         f"({s['startup']:.1f} + {s['first_request']:.1f}) | {p['generate']:.2f} | "
                         f"{p['render_export']:.2f} |")
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
