"""How well a VQ-VAE checkpoint reconstructs motion: joint error in metres, split into root and pose.

    python bench/vq_reconstruction.py --vq checkpoints/intersynth/vq --data-root data/intersynth [--windows 400] \
        [--out results/vq_reconstruction.json]

Encodes and decodes 64-frame windows of the split (the VQ's own training view: person 2 in person 1's frame) and
reports the mean per-joint position error (MPJPE), the root position error and the root-relative (pose) error. The
"continuous" row skips the codebook (encoder → decoder): the gap between the rows is the cost of quantisation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_file import publish  # noqa: E402  (bench/result_file.py)


def errors(gt: np.ndarray, rc: np.ndarray) -> dict:
    e = np.linalg.norm(gt - rc, axis=-1)
    local = np.linalg.norm((gt - gt[:, :, :1]) - (rc - rc[:, :, :1]), axis=-1)
    return {"mpjpe_m": float(e.mean()), "root_m": float(e[:, :, 0].mean()), "pose_m": float(local.mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vq", default="checkpoints/intersynth/vq")
    p.add_argument("--data-root", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--windows", type=int, default=400)
    p.add_argument("--out", type=Path, default=None, help="also write the result as JSON (for model cards)")
    args = p.parse_args()

    from intermask.checkpoint import load_vq
    from intermask.data.interhuman import InterHumanWindows
    from intermask.motion.features import features_to_joints

    vq, _, norm = load_vq(args.vq)
    ds = InterHumanWindows(args.data_root, args.split, normalizer=norm)
    idx = np.linspace(0, len(ds) - 1, min(args.windows, len(ds))).astype(int)
    x = torch.stack([torch.as_tensor(ds[int(i)]) for i in idx])
    with torch.no_grad():
        quantised = vq.decode(vq.encode(x))
        continuous = vq.autoencode(x)
    gt = features_to_joints(norm.denormalize(x.numpy()))
    rows = {"quantised": errors(gt, features_to_joints(norm.denormalize(quantised.numpy()))),
            "continuous": errors(gt, features_to_joints(norm.denormalize(continuous.numpy())))}
    publish({"vq": args.vq, "split": args.split, "windows": len(idx), **rows}, args.out)


if __name__ == "__main__":
    main()
