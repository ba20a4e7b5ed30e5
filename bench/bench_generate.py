"""Generation latency of the bundled model on this machine (issue 5).

    python bench/bench_generate.py [--repeats 10] [--checkpoint DIR] [--time-steps 12 ...] [--out bench/RESULTS-generate.md]

Medians of ``--repeats`` runs after one warm-up, all measured in one run: text → interaction for 3 s and 10 s at
batch 1 and 4, reaction to a 3 s partner, and how the cost grows with length (1–10 s, batch 1). Text encoding is
included (it is part of a request); model loading is not (it happens once per process). The sampling flags
(``--cond-scale``, ``--time-steps``, ``--topk-ratio``, ``--temperature``) default to the API's; a reaction takes
the reaction rule's steps (half of ``--time-steps``).
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
    from intermask.settings import SamplingSettings

    SamplingSettings.add_arguments(parser)
    args = parser.parse_args()
    settings = SamplingSettings.from_arguments(args)
    react_settings = settings.for_reaction()
    machine = describe()  # before the runs: their own load would otherwise show up as the machine's

    from intermask.api import InterMask

    model = InterMask.from_pretrained(args.checkpoint)
    sampling = settings.as_dict()
    text = "two people shake hands with their right hands"
    rows = []
    for seconds in (3.0, 10.0):
        for batch in (1, 4):
            ts = timings(lambda: model.generate(text, seconds=seconds, num_samples=batch, **sampling),
                         args.repeats)
            rows.append((f"generate {seconds:g} s, batch {batch}", statistics.median(ts), min(ts), max(ts)))
            print(rows[-1])
    [partner] = model.generate(text, seconds=3.0, seed=123, **sampling)
    react_kwargs = {k: getattr(react_settings, k) for k in SamplingSettings.reaction_knobs()}
    ts = timings(lambda: model.react(partner, text="the other person waves back", **react_kwargs), args.repeats)
    rows.append((f"react 3 s ({react_settings.time_steps} steps)", statistics.median(ts), min(ts), max(ts)))
    print(rows[-1])
    growth = []
    for seconds in (1.0, 2.0, 4.0, 6.0, 8.0, 10.0):
        growth.append((seconds, median_seconds(lambda: model.generate(text, seconds=seconds, **sampling),
                                               max(3, args.repeats // 2))))
        print(growth[-1])
    command = " ".join(["python bench/bench_generate.py", *sys.argv[1:]]) if sys.argv[1:] else \
        f"python bench/bench_generate.py --repeats {args.repeats}"
    which = "the defaults" if settings == SamplingSettings() else "not the defaults"
    lines = [
        "# Generation latency", "",
        f"Machine: {machine}. Command: `{command}`. "
        f"Checkpoint: `{model.checkpoint_dir}`. Sampling ({which}): {settings.time_steps} time steps "
        f"({settings.steps_for(model.pair_tokens(model.max_tokens))} for {model.max_seconds:g} s, "
        f"SamplingSettings.steps_for; {react_settings.time_steps} for reactions), guidance {settings.cond_scale:g} (conditional and "
        f"unconditional passes batched), top-k ratio {settings.topk_ratio:g}, temperature "
        f"{settings.temperature:g}, second pass {settings.second_pass} rounds. Median of "
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
