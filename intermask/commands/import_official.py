"""`python -m intermask import-official`: the official InterMask checkpoints → OUT/vq and OUT/intermask."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", required=True, metavar="CKPT_DIR",
                        help="the official checkpoints/ folder (holding <dataset>/<vq-name>/ and <dataset>/<trans-name>/)")
    parser.add_argument("--stats", required=True, metavar="STATS_DIR",
                        help="the official data/stats/ folder (global_mean.npy, global_std.npy)")
    parser.add_argument("--dataset", default="interhuman", help="data set folder inside CKPT_DIR (default interhuman)")
    parser.add_argument("--out", required=True, metavar="OUT", help="writes OUT/vq and OUT/intermask")
    parser.add_argument("--vq-name", default="vq_default", help="VQ run folder (default vq_default)")
    parser.add_argument("--trans-name", default="trans_default", help="transformer run folder (default trans_default)")
    parser.add_argument("--which", default="best_fid.tar", help="file inside each run's model/ (default best_fid.tar)")
    parser.add_argument("--clip-path", default="",
                        help="local transformers CLIP ViT-L/14@336px directory to record in the config (default: "
                             "checkpoints/clip/clip-vit-large-patch14-336 in the repository)")
    parser.add_argument("--check-against", metavar="OFFICIAL_REPO_DIR",
                        help="after importing, run the official modules of this clone beside ours on random inputs "
                             "and print the largest differences")
    parser.add_argument("--seed", type=int, default=0, help="random inputs of --check-against")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from intermask.official.importer import OfficialPaths, import_official

    paths = OfficialPaths(Path(args.checkpoints), Path(args.stats), args.dataset, args.vq_name, args.trans_name,
                          args.which)
    vq_dir, trans_dir = import_official(paths, args.out, args.clip_path, command=args.command_line)
    print(f"wrote {vq_dir} and {trans_dir}")
    print(f"use it: INTERMASK_CHECKPOINT={trans_dir} python app.py  |  "
          f"python -m intermask generate --checkpoint {trans_dir} ...")
    if args.check_against:
        from intermask.official.parity import check_against, format_report

        report = check_against(Path(args.check_against), paths, trans_dir, seed=args.seed)
        print(format_report(report))
        return 0 if report["passed"] else 1
    return 0
