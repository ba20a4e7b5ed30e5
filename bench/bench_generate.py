"""Generation latency of the bundled model on this machine (issue 5).

    python bench/bench_generate.py [--repeats 10] [--checkpoint DIR] [--out bench/RESULTS-generate.md]

Medians of ``--repeats`` runs after one warm-up, all measured in one run: text → interaction for 3 s and 10 s at
batch 1 and 4, reaction to a 3 s partner, and how the cost grows with length (1–10 s, batch 1). Text encoding is
included (it is part of a request); model loading is not (it happens once per process).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe  # noqa: E402  (bench/machine.py)


def timings(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_seconds(fn, repeats: int) -> float:
    return statistics.median(timings(fn, repeats))



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-generate.md")))
    args = parser.parse_args()
    machine = describe()  # before the runs: their own load would otherwise show up as the machine's

    from intermask.api import InterMask

    model = InterMask.from_pretrained(args.checkpoint)
    text = "two people shake hands with their right hands"
    rows = []
    for seconds in (3.0, 10.0):
        for batch in (1, 4):
            ts = timings(lambda: model.generate(text, seconds=seconds, num_samples=batch), args.repeats)
            rows.append((f"generate {seconds:g} s, batch {batch}", statistics.median(ts), min(ts), max(ts)))
            print(rows[-1])
    [partner] = model.generate(text, seconds=3.0, seed=123)
    ts = timings(lambda: model.react(partner, text="the other person waves back"), args.repeats)
    rows.append(("react 3 s (10 steps)", statistics.median(ts), min(ts), max(ts)))
    print(rows[-1])
    growth = []
    for seconds in (1.0, 2.0, 4.0, 6.0, 8.0, 10.0):
        growth.append((seconds, median_seconds(lambda: model.generate(text, seconds=seconds), max(3, args.repeats // 2))))
        print(growth[-1])
    lines = [
        "# Generation latency", "",
        f"Machine: {machine}. Command: `python bench/bench_generate.py --repeats {args.repeats}`. "
        f"Checkpoint: `{model.checkpoint_dir}`. Defaults: 20 time steps (10 for reactions), guidance 2 "
        "(conditional and unconditional passes batched), top-k ratio 0.9. Median of "
        f"{args.repeats} runs after a warm-up, text encoding included; the fastest and slowest runs show how much "
        "this shared machine varies between runs of the same code.", "",
        "| request | median seconds | fastest | slowest |", "|---|---|---|---|",
        *[f"| {name} | {t:.3f} | {lo:.3f} | {hi:.3f} |" for name, t, lo, hi in rows], "",
        "Cost against length (batch 1):", "",
        "| seconds of motion | median seconds | per second of motion |", "|---|---|---|",
        *[f"| {s:g} | {t:.3f} | {t / s:.3f} |" for s, t in growth], "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
