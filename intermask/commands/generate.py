"""`python -m intermask generate`: text → interactions written as sample_XX.npz (+ optional BVH / MP4)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from intermask.errors import InterMaskError
from intermask.validation import MAX_SECONDS, MIN_SECONDS


def add_sampling_arguments(parser: argparse.ArgumentParser, reaction: bool = False, out_required: bool = True
                           ) -> None:
    """The options shared by generate, react, compose and edit; the sampling flags come from SamplingSettings.
    React checks --out itself (a stream from standard input writes to standard output)."""
    from intermask.settings import REFINE, SamplingSettings

    parser.add_argument("--checkpoint", default=None, help="transformer checkpoint directory (default: bundled)")
    parser.add_argument("--seed", type=int, default=0)
    SamplingSettings.add_arguments(parser, reaction=reaction)
    parser.add_argument("--foot-cleanup", action="store_true", help="lock feet during contacts (keeps bone lengths)")
    REFINE.add_argument(parser)
    parser.add_argument("--bvh", action="store_true", help="also write BVH (both persons, and one file each)")
    parser.add_argument("--video", action="store_true", help="also render an MP4 per motion")
    parser.add_argument("--style", choices=["mesh", "stick"], default=None,
                        help="video style: body meshes (off-screen OpenGL) or stick figures; default as in "
                             "'render': mesh, or stick figures with a one-line note where OpenGL is unavailable")
    parser.add_argument("--out", required=out_required, help="output directory")


def sampling_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments of the API call; the API validates them (a None time-steps is the reaction default; a
    reaction has no --second-pass)."""
    from intermask.settings import SamplingSettings

    knobs = {name: getattr(args, name) for name in SamplingSettings.knobs() if hasattr(args, name)}
    return dict(seed=args.seed, foot_cleanup=args.foot_cleanup, refine=args.refine, **knobs)


def progress_bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=1, desc=desc, unit="step", leave=False)

    def update(i: int, n: int) -> None:
        bar.total = n
        bar.n = i
        bar.refresh()

    return bar, update


def write_outputs(clip, out_dir: Path, stem: str, args: argparse.Namespace) -> list[Path]:
    """The npz always; BVH and video when asked. Returns the written paths."""
    written = [clip.save(out_dir / f"{stem}.npz")]
    if args.bvh:
        from intermask.motion.bvh import write_bvh

        written += [Path(p) for p in _as_list(write_bvh(out_dir / f"{stem}.bvh", clip))]
        written += [Path(p) for p in _as_list(write_bvh(out_dir / f"{stem}.bvh", clip, per_person=True))]
    if args.video:
        from intermask.render import render_video

        written.append(Path(render_video(clip, out_dir / f"{stem}.mp4", style=args.style, caption=clip.text)))
    return written


def _as_list(x):
    return x if isinstance(x, (list, tuple)) else [x]


def produce(args: argparse.Namespace, desc: str, make, stems) -> int:
    """Load the model, run ``make(model, progress)`` (→ clips) under a progress bar, write each clip's files.

    ``stems`` names the clips' files (a list, or a function of the clip index). Nothing is written unless
    generation succeeded, so a bad setting never leaves a half-filled output directory.
    """
    if args.video:  # settled before generating: an impossible "--style mesh" stops here, not after the npz
        from intermask.render import choose_style

        args.style = choose_style(args.style, note=lambda text: print(f"note: {text}", file=sys.stderr))
    model = load_model(args)
    bar, update = progress_bar(desc)
    try:
        clips = make(model, update)
    finally:
        bar.close()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(clips):
        stem = stems(i) if callable(stems) else stems[i]
        for p in write_outputs(clip, out_dir, stem, args):
            print(p)
    return 0


def load_model(args: argparse.Namespace):
    from intermask.api import InterMask

    return InterMask.from_pretrained(args.checkpoint)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the description (\"\" samples without text)")
    src.add_argument("--prompts", help="a text file with one description per line")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help=f"duration [{MIN_SECONDS:g}, {MAX_SECONDS:g}] (the bundled models' longest window)")
    parser.add_argument("--samples", type=int, default=1, help="samples per description")
    add_sampling_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.prompts is not None:
        path = Path(args.prompts)
        if not path.is_file():
            raise InterMaskError(f"Prompts file {path} does not exist.")
        texts = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if not texts:
            raise InterMaskError(f"Prompts file {path} has no non-empty line.")
    else:
        texts = [args.text]
    def stem(i: int) -> str:
        if args.prompts is None:
            return f"sample_{i:02d}"
        return f"prompt_{i // args.samples:02d}_sample_{i % args.samples:02d}"

    return produce(args, "generating", lambda model, progress: model.generate(
        texts, seconds=args.seconds, num_samples=args.samples, progress=progress, **sampling_kwargs(args)), stem)
