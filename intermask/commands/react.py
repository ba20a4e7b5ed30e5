"""`python -m intermask react`: person B reacting to an uploaded partner motion."""
from __future__ import annotations

import argparse

from intermask.commands.generate import add_sampling_arguments, produce, sampling_kwargs
from intermask.validation import MAX_SECONDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partner", required=True, help="partner motion: .npz, .npy (joints/262/492) or .bvh")
    parser.add_argument("--text", default="", help="optional description of the interaction")
    parser.add_argument("--seconds", type=float, default=None,
                        help=f"duration (default: the partner's, ≤ {MAX_SECONDS:g} s)")
    add_sampling_arguments(parser, reaction=True)


def run(args: argparse.Namespace) -> int:
    return produce(args, "reacting", lambda model, progress: [model.react(
        args.partner, text=args.text, seconds=args.seconds, progress=progress, **sampling_kwargs(args))], ["reaction"])
