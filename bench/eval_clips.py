"""The clips a measuring script scores: the evaluation's fixed random subset of a split, its options and items."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser, split: str, clips: int) -> None:
    """--data-root, --split, --clips and --seed: which clips (the evaluation's choice of ``clips`` of a split)."""
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--split", default=split)
    parser.add_argument("--clips", type=int, default=clips)
    parser.add_argument("--seed", type=int, default=0)


def open_clips(args: argparse.Namespace, **config):
    """(EvalConfig, items, texts, ground-truth pairs (2, F_i, 262)) of the clips ``args`` name; ``config`` sets the
    other EvalConfig fields."""
    from intermask import evaluation as E

    cfg = E.EvalConfig(split=args.split, max_clips=args.clips, seed=args.seed, **config)
    dataset, indices = E.open_test_set(args.data_root, cfg)
    return (cfg, *E.clip_set(dataset, indices, 0))
