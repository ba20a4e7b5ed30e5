"""`python -m intermask eval`: R-precision, FID, MM-Dist, diversity, multimodality, control accuracy and physics
of a checkpoint on a test split, over replications (mean ± 95% CI); a Markdown table on stdout and a JSON file."""
from __future__ import annotations

import argparse

from intermask.settings import SamplingSettings

# What --quick lowers the full protocol (EvalConfig's defaults) to: a smoke run of a minute or two. max_clips
# None stands for one R-precision batch of clips.
QUICK = {"replications": 2, "mm_clips": 2, "mm_repeats": 3, "max_clips": None}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from intermask import config as C
    from intermask.evaluation import EvalConfig

    parser.add_argument("--checkpoint", default=None, help="transformer checkpoint directory (default: bundled)")
    parser.add_argument("--evaluator", nargs="+", default=None, metavar="DIR",
                        help="evaluator checkpoint directory (default: checkpoints/intersynth/evaluator); several "
                             "score the same generations, each into its own --out file")
    parser.add_argument("--data-root", required=True, help="data set in the InterHuman layout (e.g. InterSynth)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 replications, one R-precision batch of clips, small multimodality")
    parser.add_argument("--out", nargs="+", default=["results.json"], metavar="FILE",
                        help="JSON output file (default results.json), one per --evaluator")
    # The protocol's own settings (--split, --replications, --batch-size, --max-clips, --react, --no-control, ...):
    # one flag per EvalConfig field, so the parser and the protocol cannot drift apart.
    C.add_dataclass_arguments(parser, EvalConfig)
    SamplingSettings.add_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def protocol(args: argparse.Namespace):
    """The EvalConfig the command line asks for: the full protocol, or --quick's, with every given flag applied."""
    import dataclasses

    from intermask import config as C
    from intermask.evaluation import EvalConfig

    base = EvalConfig()
    if args.quick:
        batch = args.batch_size or base.batch_size
        base = dataclasses.replace(base, **{k: batch if v is None else v for k, v in QUICK.items()})
    return C.apply_arguments(base, args)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from intermask.api import DEFAULT_CHECKPOINT, DEFAULT_EVALUATOR, repo_relative
    from intermask.errors import InterMaskError
    from intermask.evaluation import evaluate_scored, format_markdown, load_generator, write_json
    from intermask.models.evaluator import EvaluatorWithText

    settings = SamplingSettings.from_arguments(args)
    cfg = protocol(args)
    checkpoint = Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT
    if not Path(args.data_root).is_dir():
        raise InterMaskError(f"--data-root {args.data_root} is not a directory.")
    evaluator_dirs = [Path(d) for d in args.evaluator] if args.evaluator else [DEFAULT_EVALUATOR]
    if len(args.out) != len(evaluator_dirs):
        raise InterMaskError(f"Give one --out file per --evaluator: {len(evaluator_dirs)} evaluator(s), "
                             f"{len(args.out)} output file(s).")
    model = load_generator(checkpoint)
    evaluators = [EvaluatorWithText.from_dir(d) for d in evaluator_dirs]

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
        results = evaluate_scored(model, evaluators, args.data_root, cfg, settings, progress,
                                  [{"checkpoint": repo_relative(checkpoint), "evaluator": repo_relative(d),
                                    "evaluator_config": dataclasses.asdict(e.model.cfg), "quick": args.quick}
                                   for d, e in zip(evaluator_dirs, evaluators)])
    finally:
        if bar is not None:
            bar.close()
    for result, out in zip(results, args.out):
        # Recorded so that a model card quoting this file can name the command behind every number.
        result["command"] = getattr(args, "command_line", None)
        print(format_markdown(result), end="")
        print(f"wrote {write_json(result, out)}")
    return 0
