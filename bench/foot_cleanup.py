"""What the foot cleanup option does to the bundled model's output: physics with and without it.

    python bench/foot_cleanup.py [--seeds 4] [--seconds 4]

Generates each prompt below for each seed once, then scores the raw clip and the same clip after
``intermask.motion.footlock.foot_cleanup`` (what ``generate(..., foot_cleanup=True)`` and the demo's checkbox do).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = ["two people shake hands with their right hands", "two people walk toward each other and hug",
           "one person pushes the other with both hands", "two people walk side by side",
           "one person waves at the other, who waves back", "one person kicks the other with the left leg"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=4.0)
    args = p.parse_args()

    from intermask.api import InterMask
    from intermask.metrics import physics
    from intermask.motion.footlock import foot_cleanup

    model = InterMask.from_pretrained()
    raw, clean = [], []
    for seed in range(args.seeds):
        for clip in model.generate(PROMPTS, seconds=args.seconds, seed=seed):
            raw.append(physics.summary(clip.joints))
            clean.append(physics.summary(foot_cleanup(clip).joints))
    keys = ("foot_skate_mps", "ground_penetration_frac", "bone_length_drift", "jerk_mps3")
    rows = {name: {k: float(np.mean([s[k] for s in table])) for k in keys}
            for name, table in (("raw", raw), ("foot cleanup", clean))}
    print(json.dumps({"clips": len(raw), "seconds": args.seconds, **rows}, indent=1))


if __name__ == "__main__":
    main()
