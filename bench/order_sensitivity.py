"""Does the transformer know which person "the first person" is? A likelihood test on real clips.

    python bench/order_sensitivity.py [--checkpoint DIR] [--data-root data/intersynth] [--split val] [--out FILE]

Every clip of the split with a description that names a person by order ("the first person kicks the second
one") is tokenised by the model's VQ, and the transformer scores its true token map from a fully masked input
(the first decoding step, where who acts is decided) twice: conditioned on that description, and on the same
description with "first" and "second" swapped. A model that follows the order words gives the true map a lower
negative log-likelihood under the description than under the swapped one; a model that cannot tell its two
persons apart gives both exactly the same. Reported: the mean difference in nats per token (swapped minus true,
so higher is better) and the share of clips where the true description wins. Much finer than sampling the
``--set order`` prompts of ``intermask.paraphrase`` (96 samples there are ±10 points), and it needs no
generation. The measurement itself: ``intermask/metrics/order.py`` (the training probe logs it too).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_file import publish  # noqa: E402  (bench/result_file.py)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="transformer checkpoint (default: the bundled model)")
    p.add_argument("--data-root", default="data/intersynth")
    p.add_argument("--split", default="val")
    p.add_argument("--clips", type=int, default=0, help="at most this many clips (0: all that name an order)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    from intermask.api import InterMask
    from intermask.metrics.order import order_clips, order_sensitivity

    model = InterMask.from_pretrained(args.checkpoint)
    clips = order_clips(args.data_root, args.split, args.clips)
    if not clips:
        sys.exit(f"No clip of the {args.split} split of {args.data_root} names a person by order.")
    publish({"checkpoint": str(args.checkpoint or "bundled"), "data_root": args.data_root, "split": args.split,
             **order_sensitivity(model, clips, progress=True)}, args.out)


if __name__ == "__main__":
    main()
