"""Compute per frame and worst-case latency of streamed reaction (issue 15) on this machine.

    python bench/bench_stream.py [--seconds 30] [--paper-seconds 8] [--threads 1 2] [--out bench/RESULTS-stream.md]

The partner is a generated 10 s clip played forwards and backwards until ``--seconds`` of motion (so it never
jumps). It is fed token by token to :class:`intermask.streaming.ReactionStream` as fast as the model goes (no
pacing), and every 4-frame step is timed: solving the partner's rotations, encoding both persons' windows, masked
decoding and decoding the new frames. Reported per configuration and thread count: mean compute per generated
frame (target ≤ 0.02 s) in wall-clock time and in CPU time of this process (with one thread, what the step costs
on a core of its own, which a busy machine does not give), median, 95th percentile and worst step (the latency a live stream sees on top of the
3-frame lookahead), and the mean per frame in the first and the last quarter of the stream (flat if the context
is bounded). The paper-size configuration has random weights (timing only) and a stand-in text encoder of CLIP's
width (768).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402  (bench/machine.py)


def paper_model(bundled):
    """The paper-size VQ-VAE and transformer with random weights, the bundled model's normaliser."""
    from intermask import config as C
    from intermask.api import InterMask
    from intermask.models.transformer import InterMTransformer
    from intermask.models.vqvae import VQVAE
    from intermask.text.base import ToyTextEncoder

    cfg = C.paper()
    text = ToyTextEncoder(dim=768)
    torch.manual_seed(0)
    vq = VQVAE(cfg.vq).eval()
    vq.quantizer.codebook.copy_(torch.randn(cfg.vq.nb_code, cfg.vq.code_dim))
    vq.quantizer.initted.fill_(True)
    transformer = InterMTransformer(cfg.transformer, cfg.vq.nb_code, text.dim).eval()
    return InterMask(vq, transformer, bundled.normalizer, text, Path("paper-size (random weights)"))


def partner_motion(model, seconds: float) -> np.ndarray:
    [clip] = model.generate("two people dance together", seconds=10.0, seed=7)
    a = clip.joints[0]
    loop = np.concatenate([a, a[::-1]])
    reps = int(np.ceil(seconds * 30 / len(loop)))
    return np.concatenate([loop] * reps)[: int(seconds * 30)]


def time_stream(model, partner: np.ndarray, context: int, steps: int) -> dict:
    from intermask.settings import SamplingSettings, StreamSettings
    from intermask.streaming import ReactionStream

    state = ReactionStream(model, "they dance together", 0, SamplingSettings(),
                           StreamSettings(context_tokens=context, stream_steps=steps))
    fpt = state.fpt
    times, cpu = [], []
    for k in range(len(partner) // fpt):
        t0, c0 = time.perf_counter(), time.process_time()
        state.push(partner[k * fpt:(k + 1) * fpt])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t = np.array(times[1:])  # the first step also warms the kernels up
    c = np.array(cpu[1:])
    q = max(1, len(t) // 4)
    return {"steps": len(t), "mean_per_frame": t.mean() / fpt, "cpu_per_frame": c.mean() / fpt,
            "median_step": float(np.median(t)),
            "p95_step": float(np.percentile(t, 95)), "worst_step": float(t.max()),
            "first_quarter_per_frame": t[:q].mean() / fpt, "last_quarter_per_frame": t[-q:].mean() / fpt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="partner length for the bundled model")
    parser.add_argument("--paper-seconds", type=float, default=8.0, help="partner length for the paper size")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--grid", action="store_true", help="also time other context sizes and rounds")
    parser.add_argument("--note", default="", help="a sentence about the machine's load, written with the results")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-stream.md")))
    args = parser.parse_args()

    from intermask.api import InterMask
    from intermask.settings import StreamSettings

    machine = describe()
    bundled = InterMask.from_pretrained()
    partner = partner_motion(bundled, max(args.seconds, args.paper_seconds))
    default = StreamSettings()
    configs = [("bundled", bundled, default.context_tokens, default.stream_steps, args.seconds)]
    if args.grid:
        configs += [("bundled", bundled, c, s, args.seconds) for c, s in ((8, 2), (16, 1), (32, 2), (16, 4))]
    configs.append(("paper size", paper_model(bundled), default.context_tokens, default.stream_steps,
                    args.paper_seconds))
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, model, context, steps, seconds in configs:
            r = time_stream(model, partner[: int(seconds * 30)], context, steps)
            rows.append((name, context, steps, threads, seconds, r))
            print(rows[-1], flush=True)
    lines = [
        "# Streamed reaction: compute per frame and latency", "",
        f"Machine: {machine}. Command: `python {' '.join(sys.argv)}`. "
        + (f"{args.note} " if args.note else "") + "Each 4-frame step is timed (partner rotations, VQ "
        "encoding of both windows, masked decoding with guidance 2, VQ decoding); the first step is a warm-up. "
        "A live stream's latency per frame is the step time plus the 3-frame (100 ms) lookahead.", "",
        "| model | context tokens | rounds | threads | stream s | mean s / frame | CPU s / frame | median s / step "
        "| p95 s / step | worst s / step | first ¼ s / frame | last ¼ s / frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {n} | {c} | {s} | {t} | {sec:g} | {r['mean_per_frame']:.4f} | {r['cpu_per_frame']:.4f} | "
          f"{r['median_step']:.3f} | "
          f"{r['p95_step']:.3f} | {r['worst_step']:.3f} | {r['first_quarter_per_frame']:.4f} | "
          f"{r['last_quarter_per_frame']:.4f} |" for n, c, s, t, sec, r in rows], "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
