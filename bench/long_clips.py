"""Long clips and the number of decoding rounds: how often the two generated persons end up inside each other.

    python bench/long_clips.py [--checkpoint DIR] [--data-root data/intersynth] [--frames 240 300]
        [--time-steps 20] [--seeds 1] [--out results/long_clips.json]

Generated at their ground-truth length, the longest test clips (8–10 s) often have the two persons' pelvises
within ``--overlap`` metres of each other at some frame, which no ground-truth clip has: passers-by start on the
same spot, a pat or a pull is done from inside the partner. Each clip of the test split's first replication
(the evaluation's 128 clips and descriptions) whose length is within ``--frames`` is generated once per seed and
per number of rounds, twice for each: with the rounds exactly as given, and with ``SamplingSettings.steps_for``
(the API's rule, which gives maps of more than ``STEP_TOKENS`` free tokens proportionally more rounds). Raw
output, no refinement. Output: per setting, how many clips overlap, and the side accuracy of the pass-bys among
them (the check whose failures led here).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from result_file import publish  # noqa: E402  (bench/result_file.py)
from intermask.settings import SamplingSettings  # noqa: E402


@dataclass(frozen=True)
class FixedRounds(SamplingSettings):
    """Settings that decode every map in exactly ``time_steps`` rounds (the rule before ``steps_for``)."""

    def steps_for(self, free_tokens: int) -> int:
        return max(1, self.time_steps)


def closest_pelvises(joints: np.ndarray) -> float:
    """The smallest distance (m) between the two persons' pelvises over a clip's frames; joints (2, T, 22, 3)."""
    from intermask.metrics.control import PELVIS

    return float(np.linalg.norm(joints[0, :, PELVIS] - joints[1, :, PELVIS], axis=1).min())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="transformer checkpoint directory (default: the bundled one)")
    p.add_argument("--data-root", default="data/intersynth")
    p.add_argument("--frames", type=int, nargs=2, default=(240, 300), metavar=("FROM", "TO"),
                   help="clip lengths in [FROM, TO] frames (the evaluation cuts clips at 300)")
    p.add_argument("--time-steps", type=int, nargs="+", default=[20])
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--overlap", type=float, default=0.3, help="pelvis distance (m) counted as inside each other")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)

    from intermask.evaluation import (EvalConfig, clip_set, derive_seed, generate_set, item_labels, load_generator,
                                      open_test_set)
    from intermask.metrics.control import check_side
    from intermask.motion.features import features_to_joints

    cfg = EvalConfig(max_clips=128)
    dataset, indices = open_test_set(args.data_root, cfg)
    model = load_generator(args.checkpoint)
    items, texts, gt = clip_set(dataset, indices, 0)
    labels = item_labels(items)
    chosen = [i for i in range(len(gt)) if args.frames[0] <= gt[i].shape[1] <= args.frames[1]]
    if not chosen:
        raise SystemExit(f"No test clip has {args.frames[0]}–{args.frames[1]} frames.")
    gt_closest = [closest_pelvises(features_to_joints(gt[i])) for i in chosen]
    print(f"{len(chosen)} clips of {args.frames[0]}–{args.frames[1]} frames; ground truth closest pelvises "
          f"{min(gt_closest):.2f} m at least", flush=True)

    rows = []
    for steps in args.time_steps:
        for rule, cls in (("fixed", FixedRounds), ("steps_for", SamplingSettings)):
            settings = cls(time_steps=steps)
            overlapping, passes, passes_ok = 0, 0, 0
            for seed in args.seeds:
                gen = generate_set(model, [texts[i] for i in chosen], [gt[i] for i in chosen], derive_seed(0, seed, 1),
                                   settings, cfg.gen_batch)
                for i, g in zip(chosen, gen):
                    j = features_to_joints(g)
                    overlapping += closest_pelvises(j) < args.overlap
                    if labels[i] and labels[i].get("category") == "pass_by":
                        passes += 1
                        passes_ok += bool(check_side(labels[i], j))
            rounds = settings.steps_for(model.pair_tokens(model.tokens_for(args.frames[1])))
            rows.append({"time_steps": steps, "rule": rule, "rounds_at_longest": rounds,
                         "clips": len(chosen) * len(args.seeds), "overlapping": overlapping, "pass_by": passes,
                         "pass_by_side_right": passes_ok})
            print(f"time steps {steps:3d}, {rule:9s} ({rounds} rounds at {args.frames[1]} frames): {overlapping}/"
                  f"{rows[-1]['clips']} clips overlap; pass-by side {passes_ok}/{passes}", flush=True)
    publish({"checkpoint": args.checkpoint or "bundled", "data_root": args.data_root, "frames": list(args.frames),
             "seeds": args.seeds, "overlap_m": args.overlap, "ground_truth_closest_min": min(gt_closest),
             "rows": rows}, Path(args.out) if args.out else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
