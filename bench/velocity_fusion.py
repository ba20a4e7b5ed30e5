"""What decoding with velocity fusion does to generated motion, weight by weight, on the same tokens.

    python bench/velocity_fusion.py --checkpoint checkpoints/intersynth/intermask --data-root data/intersynth \
        --clips 128 --weights 0 0.25 0.5 1 4 16 --out results/velocity_fusion.json

Generates each clip once (validation split by default, where the weight is chosen; the tables report the test
split), decoding positions only, then fuses the decoded positions and velocities at every weight
(``features.fuse_velocities``) and scores each: R-precision, FID and MM Dist, control accuracy and raw physics.
The sampled tokens are the same for every weight, so the rows differ by the decoding alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eval_clips  # noqa: E402  (bench/eval_clips.py)
from result_file import publish  # noqa: E402  (bench/result_file.py)
from intermask.api import DEFAULT_EVALUATOR, repo_relative  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/intersynth/intermask")
    p.add_argument("--evaluator", default=repo_relative(DEFAULT_EVALUATOR))
    eval_clips.add_arguments(p, split="val", clips=128)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 4.0, 16.0])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from tqdm import tqdm

    from intermask import evaluation as E
    from intermask.api import InterMask
    from intermask.metrics import physics
    from intermask.models.evaluator import EvaluatorWithText
    from intermask.motion.features import FPS, features_to_joints, fuse_velocities
    from intermask.settings import SamplingSettings

    model = InterMask.from_pretrained(args.checkpoint)
    shipped = model.vq.cfg.velocity_fusion
    model.vq.cfg.velocity_fusion = 0.0  # decode positions only; every weight is applied below to the same output
    evaluator = EvaluatorWithText.from_dir(args.evaluator)
    cfg, items, texts, gt = eval_clips.open_clips(args, replications=1, batch_size=min(32, args.clips),
                                                  diversity_pairs=args.clips)
    with tqdm(total=len(items), desc="generating", unit="clip") as bar:
        raw = E.generate_set(model, texts, gt, args.seed, SamplingSettings(), cfg.gen_batch, progress=bar.update)
    e_text, e_gt = E.embed_texts(evaluator, texts), E.embed_motions(evaluator, gt)
    labels = E.item_labels(items)

    def scores(feats: list[np.ndarray], ref: np.ndarray | None) -> dict:
        joints = [features_to_joints(f) for f in feats]
        row = E.distribution_row(e_text, E.embed_motions(evaluator, feats), cfg, 0, ref)
        row["control"] = {a: c / t for a, (c, t) in E.control_scores(labels, joints).items()}
        row["physics"] = physics.aggregate([physics.summary(j, FPS) for j in joints])
        return row

    rows = {"ground_truth": scores(gt, None)}
    for w in tqdm(args.weights, desc="weights"):
        rows[f"{w:g}"] = scores([fuse_velocities(f, w) for f in raw], e_gt)
    return publish({"checkpoint": args.checkpoint, "shipped_weight": shipped, "split": args.split,
                    "clips": len(items), "seed": args.seed, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
