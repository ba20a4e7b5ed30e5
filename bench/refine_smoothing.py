"""What the refinement's smoothing ladder does to the model's output: one generation, refined with each ladder.

    python bench/refine_smoothing.py --data-root data/intersynth --clips 64 \
        --ladders 0.5,0.75,1 0,0.5,0.75,1 0,0.5 0 --out results/refine_smoothing.json
    python bench/refine_smoothing.py --data-root data/intersynth --clips 64 --react \
        --ladders 0.5,0.75,1 0,0.5,0.75,1 0,0.5 0 --out results/refine_smoothing_react.json

Generates each clip once (validation split by default, where the ladder is chosen; the README's refinement table
reports the test split), decoded as the checkpoint decodes, then refines that same output with every ladder
(``refine_pair(smoothing=...)``: each σ tried in order until the jerk no longer rises) and scores raw physics and
control accuracy. With ``--react`` person A is the clip's own and only B is generated and refined. The rows differ
by the refinement alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eval_clips  # noqa: E402  (bench/eval_clips.py)
from intermask.motion.refine import FUSED_SMOOTHING, SMOOTHING  # noqa: E402
from result_file import publish  # noqa: E402  (bench/result_file.py)


def ladder(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/intersynth/intermask")
    eval_clips.add_arguments(p, split="val", clips=64)
    p.add_argument("--react", action="store_true", help="person B reacts to the clip's own A")
    p.add_argument("--ladders", type=ladder, nargs="+", default=[SMOOTHING, FUSED_SMOOTHING],
                   help="smoothing ladders, each σ list comma-separated (frames); default: the two shipped ones")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from tqdm import tqdm

    from intermask import evaluation as E
    from intermask.api import InterMask
    from intermask.metrics import physics
    from intermask.motion.features import FPS, features_to_joints
    from intermask.motion.refine import refine_features
    from intermask.settings import SamplingSettings

    model = InterMask.from_pretrained(args.checkpoint)
    cfg, items, texts, gt = eval_clips.open_clips(args, react=args.react, batch_size=min(32, args.clips))
    with tqdm(total=len(items), desc="generating", unit="clip") as bar:
        raw = E.generate_set(model, texts, gt, args.seed, SamplingSettings(), cfg.gen_batch, args.react,
                             progress=bar.update)
    labels = E.item_labels(items)
    fixed = (0,) if args.react else ()

    def scores(feats: list[np.ndarray]) -> dict:
        joints = [features_to_joints(f) for f in feats]
        return {"physics": physics.aggregate([physics.summary(j, FPS) for j in joints]),
                "control": {a: c / t for a, (c, t) in E.control_scores(labels, joints).items() if t}}

    rows = {"ground_truth": scores(gt), "raw": scores(raw)}
    for steps in tqdm(args.ladders, desc="ladders"):
        rows[",".join(f"{s:g}" for s in steps)] = scores(
            [refine_features(f, fixed=fixed, smoothing=steps) for f in raw])
    return publish({"checkpoint": args.checkpoint, "shipped_ladder": list(model.refine_smoothing),
                    "split": args.split, "clips": len(items), "seed": args.seed, "react": args.react,
                    "rows": rows}, args.out)


if __name__ == "__main__":
    main()
