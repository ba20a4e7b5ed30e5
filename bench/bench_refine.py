"""Time of the refinement step (intermask/motion/refine.py) on the bundled model's raw output (issue 18).

    python bench/bench_refine.py [--clips 4] [--repeats 7] [--out bench/RESULTS-refine.md]

Generates ``--clips`` raw 3 s clips and one raw 10 s clip (``refine=False``), then times ``refine`` on each:
both persons moved (generation, compose) and person B only (reaction), median of ``--repeats`` runs after a
warm-up. Wall-clock and CPU seconds are both reported: on a machine shared with a training job the wall clock
also counts the time this process waits for a core, the CPU time does not. Target: 0.1 s for a 3 s clip.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe  # noqa: E402  (bench/machine.py)

PROMPTS = ["two people shake hands with their right hands", "two people walk toward each other and hug",
           "one person pushes the other with both hands", "one person waves at the other, who waves back"]


def medians(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-refine.md")))
    parser.add_argument("--shared", action="store_true",
                        help="say in the results that a CPU job (training) shared the machine during the runs")
    args = parser.parse_args()

    from intermask.api import InterMask
    from intermask.motion.refine import refine

    machine = describe()
    model = InterMask.from_pretrained()
    clips = [(f"3 s: {PROMPTS[i % len(PROMPTS)]}", model.generate(PROMPTS[i % len(PROMPTS)], seconds=3.0, seed=i,
                                                                 refine=False)[0]) for i in range(args.clips)]
    clips.append((f"10 s: {PROMPTS[0]}", model.generate(PROMPTS[0], seconds=10.0, seed=0, refine=False)[0]))
    rows = []
    for name, clip in clips:
        for mode, fixed in (("both persons", ()), ("reaction (B only)", (0,))):
            wall, cpu = medians(lambda: refine(clip, fixed=fixed), args.repeats)
            rows.append((name, mode, wall, cpu))
            print(rows[-1])
    three = [r for r in rows if r[0].startswith("3 s")]
    worst_cpu = max(r[3] for r in three)
    lines = [
        "# Refinement time", "",
        f"Machine: {machine}. Command: `python bench/bench_refine.py --clips {args.clips} --repeats {args.repeats}{' --shared' if args.shared else ''}`. "
        f"Input: the bundled model's raw output (`generate(..., refine=False)`, seeds 0..{args.clips - 1}). "
        f"Median of {args.repeats} runs after a warm-up. "
        + ("The machine was running a CPU training job at the same time (see the load average): wall-clock "
           "seconds include waiting for a core, CPU seconds are the work itself." if args.shared else
           "Nothing else ran on the machine (the load average is what earlier jobs left)."), "",
        "| clip | persons refined | median wall s | median CPU s |", "|---|---|---|---|",
        *[f"| {name} | {mode} | {wall:.3f} | {cpu:.3f} |" for name, mode, wall, cpu in rows], "",
        f"Target (issue 18): ≤ 0.1 s for a 3 s clip. Slowest 3 s clip: {worst_cpu:.3f} CPU s, "
        f"{max(r[2] for r in three):.3f} wall s.", "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
