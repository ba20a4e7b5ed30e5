"""`python -m intermask react`: person B reacting to an uploaded partner motion."""
from __future__ import annotations

import argparse
from pathlib import Path

from intermask.commands.generate import add_sampling_arguments, load_model, progress_bar, sampling_kwargs, write_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partner", required=True, help="partner motion: .npz, .npy (joints/262/492) or .bvh")
    parser.add_argument("--text", default="", help="optional description of the interaction")
    parser.add_argument("--seconds", type=float, default=None, help="duration (default: the partner's, ≤ 10 s)")
    add_sampling_arguments(parser, time_steps=None)


def run(args: argparse.Namespace) -> int:
    model = load_model(args)
    bar, update = progress_bar("reacting")
    clip = model.react(args.partner, text=args.text, seconds=args.seconds, progress=update, **sampling_kwargs(args))
    bar.close()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in write_outputs(clip, out_dir, "reaction", args):
        print(p)
    return 0
