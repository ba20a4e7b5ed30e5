#!/usr/bin/env python
"""Training speed of the tiny configuration on this CPU: 1 process vs 2 processes (torchrun, gloo), and the
latency of one transformer forward pass (CFG pair batched) for a 3 s interaction.

    python bench/bench_train.py [--vq-steps 12] [--tr-steps 8]

Steps/s come from the JSONL log's timestamps between the first and last logged step (start-up excluded).
The global batch is the same in both runs, so 2 processes each compute half of it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(script: str, args: list[str], procs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if procs == 1:
        cmd = [sys.executable, str(REPO / "train" / script)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}",
               "--master_addr=127.0.0.1", f"--master_port={_port()}", str(REPO / "train" / script)]
    subprocess.run(cmd + args, env=env, check=True, capture_output=True)
    out = Path(args[args.index("--out") + 1])
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    recs = [r for r in recs if "loss" in r]
    return (recs[-1]["step"] - recs[0]["step"]) / (recs[-1]["time"] - recs[0]["time"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vq-steps", type=int, default=12)
    ap.add_argument("--tr-steps", type=int, default=8)
    a = ap.parse_args()
    from fixtures import write_interhuman_tree

    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data = tmp / "data"
    write_interhuman_tree(data, n_clips=60, frames=(100, 160), seed=0)
    base = ["--config", "tiny", "--data-root", str(data), "--log-every", "1", "--save-every", "100000",
            "--no-progress", "--text-encoder", "toy"]
    results = {}
    for procs in (1, 2):
        vq_out = tmp / f"vq{procs}"
        results[f"vq_steps_per_s_{procs}p"] = _run(
            "train_vq.py", base + ["--max-steps", str(a.vq_steps), "--batch-size", "64", "--out", str(vq_out)], procs)
        results[f"transformer_steps_per_s_{procs}p"] = _run(
            "train_transformer.py", base + ["--max-steps", str(a.tr_steps), "--batch-size", "32",
                                            "--vq", str(tmp / "vq1" / "latest"), "--out", str(tmp / f"t{procs}")],
            procs)

    import torch

    from intermask.checkpoint import load_transformer
    from intermask.text.base import TextFeatures, ToyTextEncoder

    torch.set_num_threads(os.cpu_count() or 1)
    model, cfg, _, _ = load_transformer(tmp / "t1" / "latest")
    enc = ToyTextEncoder()
    text = enc.encode(["two people shake hands"])
    ids = torch.full((2, 2, 5, 22), model.mask_id)  # 88 frames ≈ 3 s, conditional + unconditional rows
    pair = TextFeatures.cat([text, text])
    times = []
    with torch.no_grad():
        for _ in range(12):
            t = time.perf_counter()
            model(ids, torch.tensor([22, 22]), pair, torch.tensor([False, True]))
            times.append(time.perf_counter() - t)
    results["forward_cfg_pair_3s_ms"] = 1000 * statistics.median(times[2:])
    results["generation_20_steps_s_estimate"] = 20 * statistics.median(times[2:])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import describe

    results["machine"] = describe()
    for k in ("vq", "transformer"):
        results[f"{k}_speedup_2p"] = results[f"{k}_steps_per_s_2p"] / results[f"{k}_steps_per_s_1p"]
    print(json.dumps(results, indent=2))
    lines = ["# Training speed, tiny configuration", "",
             f"Machine: {results['machine']}. Command: `python bench/bench_train.py --vq-steps {a.vq_steps} "
             f"--tr-steps {a.tr_steps}` (toy text encoder, 60 generated clips; same global batch in both runs).", "",
             "| model | 1 process steps/s | 2 processes steps/s | speed-up |", "|---|---|---|---|"]
    for k, batch in (("vq", 64), ("transformer", 32)):
        lines.append(f"| {k} (global batch {batch}) | {results[f'{k}_steps_per_s_1p']:.3f} | "
                     f"{results[f'{k}_steps_per_s_2p']:.3f} | {results[f'{k}_speedup_2p']:.2f}× |")
    lines += ["", f"One transformer forward, CFG pair batched, 3 s: {results['forward_cfg_pair_3s_ms']:.1f} ms "
              f"(20 decoding steps ≈ {results['generation_20_steps_s_estimate']:.2f} s).", ""]
    Path(__file__).with_name("RESULTS-train.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
