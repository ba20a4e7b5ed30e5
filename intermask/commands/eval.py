"""`python -m intermask eval`: R-precision, FID, MM-Dist, diversity, multimodality, control accuracy and physics
of a checkpoint on a test split, over replications (mean ± 95% CI); a Markdown table on stdout and a JSON file."""
from __future__ import annotations

import argparse

from intermask.settings import SamplingSettings

# What --quick lowers the full protocol (EvalConfig's defaults) to: a smoke run of a minute or two.
QUICK = {"replications": 2, "mm_clips": 2, "mm_repeats": 3, "max_clips": None}  # None: one R-precision batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, help="transformer checkpoint directory (default: bundled)")
    parser.add_argument("--evaluator", default=None,
                        help="evaluator checkpoint directory (default: checkpoints/intersynth/evaluator)")
    parser.add_argument("--data-root", required=True, help="data set in the InterHuman layout (e.g. InterSynth)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--replications", type=int, default=None, help="default 20 (2 with --quick)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="R-precision/MM-Dist batch size; part of the metric (default 32)")
    parser.add_argument("--mm-clips", type=int, default=None, help="clips for multimodality (default 100)")
    parser.add_argument("--mm-repeats", type=int, default=None, help="generations per multimodality clip (default 30)")
    parser.add_argument("--max-clips", type=int, default=None, help="evaluate a fixed random subset (0 = all)")
    parser.add_argument("--gen-batch", type=int, default=32, help="clips per generation call (speed/memory)")
    parser.add_argument("--react", action="store_true",
                        help="reaction generation: person A's ground truth is given, B is generated in half the "
                             "--time-steps, as the official code")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 replications, one R-precision batch of clips, small multimodality")
    parser.add_argument("--no-control", action="store_true", help="skip control accuracy")
    parser.add_argument("--no-physics", action="store_true", help="skip physical plausibility")
    parser.add_argument("--out", default="results.json", help="JSON output file (default results.json)")
    parser.add_argument("--seed", type=int, default=0)
    SamplingSettings.add_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _resolve(args: argparse.Namespace, name: str, batch_size: int):
    from intermask.evaluation import EvalConfig

    given = getattr(args, name)
    if given is not None:
        return given
    value = QUICK[name] if args.quick else getattr(EvalConfig, name)
    return batch_size if value is None else value


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from intermask.api import DEFAULT_CHECKPOINT, REPO_ROOT
    from intermask.errors import InterMaskError
    from intermask.evaluation import EvalConfig, evaluate, format_markdown, load_generator, write_json
    from intermask.models.evaluator import EvaluatorWithText

    settings = SamplingSettings.from_arguments(args)
    cfg = EvalConfig(split=args.split, replications=_resolve(args, "replications", args.batch_size),
                     batch_size=args.batch_size, mm_clips=_resolve(args, "mm_clips", args.batch_size),
                     mm_repeats=_resolve(args, "mm_repeats", args.batch_size),
                     max_clips=_resolve(args, "max_clips", args.batch_size), gen_batch=args.gen_batch,
                     react=args.react, seed=args.seed, control=not args.no_control, physics=not args.no_physics)
    checkpoint = Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT
    if not Path(args.data_root).is_dir():
        raise InterMaskError(f"--data-root {args.data_root} is not a directory.")
    evaluator_dir = Path(args.evaluator) if args.evaluator else REPO_ROOT / "checkpoints" / "intersynth" / "evaluator"
    model = load_generator(checkpoint)
    evaluator = EvaluatorWithText.from_dir(evaluator_dir)

    bar = None
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=1, unit="clip", leave=False)

        def progress(desc: str, done: int, total: int) -> None:
            bar.set_description(desc)
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = evaluate(model, evaluator, args.data_root, cfg, settings, progress,
                          info={"checkpoint": str(checkpoint), "evaluator": str(evaluator_dir), "quick": args.quick})
    finally:
        if bar is not None:
            bar.close()
    # Recorded so that a model card quoting this file can name the command behind every number.
    result["command"] = getattr(args, "command_line", None)
    print(format_markdown(result), end="")
    print(f"wrote {write_json(result, args.out)}")
    return 0
