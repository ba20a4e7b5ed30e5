"""`python -m intermask synth`: write the procedural InterSynth data set in the InterHuman layout."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output directory (created; InterHuman layout)")
    parser.add_argument("--num", type=int, default=8000, help="number of clips (default 8000)")
    parser.add_argument("--seed", type=int, default=0, help="data set seed; the same seed gives identical files")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (output does not depend on it)")
    parser.add_argument("--stats", metavar="DIR", help="print statistics of an existing data set and exit")
    parser.add_argument("--json", action="store_true", help="with --stats: print JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from intermask.data.intersynth.stats import dataset_stats, format_stats
    from intermask.data.intersynth.writer import write_dataset
    from intermask.errors import InterMaskError

    if args.stats:
        s = dataset_stats(args.stats)
        print(json.dumps(s, indent=1) if args.json else format_stats(s))
        return 0
    if not args.out:
        raise InterMaskError("synth needs --out DIR (where to write the data set) or --stats DIR.")
    t0 = time.time()
    res = write_dataset(args.out, num=args.num, seed=args.seed, workers=args.workers)
    print(f"wrote {res['clips']} clips ({res['frames'] / 30 / 3600:.2f} h) to {args.out} "
          f"in {time.time() - t0:.0f} s")
    return 0
