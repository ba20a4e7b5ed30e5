"""`python -m intermask edit`: regenerate a time span of an interaction (both people, or one) from a new text.

    python -m intermask edit --motion clip.npz --start 2 --end 4 --text "they hug" --out out/
    python -m intermask edit --motion clip.npz --start 1 --end 3 --person 1 --text "the other one ducks" --out out/

Everything outside the span (and, with --person, the other person everywhere) is kept exactly as in the file;
the regenerated frames are refined unless --no-refine. Writes out/edit.npz (and BVH / MP4 with --bvh / --video).
"""
from __future__ import annotations

import argparse

from intermask.commands.generate import add_sampling_arguments, produce, sampling_kwargs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--motion", required=True,
                        help="the interaction to edit: .npz (as generate writes), .npy joints (2, T, 22, 3) or a "
                             "two-person .bvh")
    parser.add_argument("--start", type=float, required=True, help="start of the span to regenerate, in seconds")
    parser.add_argument("--end", type=float, required=True, help="end of the span (exclusive), in seconds")
    parser.add_argument("--text", default="", help="description of the new motion inside the span")
    parser.add_argument("--person", type=int, choices=(0, 1), default=None,
                        help="regenerate only this person (0 = A, 1 = B) and keep the other everywhere "
                             "(default: both people inside the span)")
    add_sampling_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return produce(args, "editing", lambda model, progress: [model.edit(
        args.motion, start=args.start, end=args.end, text=args.text, person=args.person, progress=progress,
        **sampling_kwargs(args))], ["edit"])
