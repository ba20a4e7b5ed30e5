"""What float16 storage (``train/bundle.py --half``) changes in a VQ-VAE: its codes and its decoded motion.

    python bench/half_precision.py --vq checkpoints/intersynth/vq --data-root data/intersynth --clips 100 \
        [--out results/half_precision.json]

Bundles a float16 copy of ``--vq`` into a temporary directory, encodes the first ``--clips`` validation clips (both
persons, whole clip) with the original and the copy, and reports the share of token positions that get the same
code; then decodes the original's codes with both decoders and reports the largest difference of a joint position.
The transformer's float16 copy is judged by the evaluation itself (a half bundle is evaluated as bundled).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from result_file import publish  # noqa: E402  (bench/result_file.py)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vq", required=True, type=Path)
    p.add_argument("--data-root", required=True)
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from intermask.checkpoint import load_vq
    from intermask.data.interhuman import InterHumanDataset
    from intermask.motion.features import features_to_joints
    from train.bundle import bundle

    full, cfg, norm = load_vq(args.vq)
    with tempfile.TemporaryDirectory() as tmp:
        half = load_vq(bundle(args.vq, Path(tmp) / "vq", half=True))[0]
    step = full.frames_per_token
    data = InterHumanDataset(args.data_root, "val", None, cfg.data.max_frames, cfg.data.min_frames, mirror=False,
                             cache=False)
    same = total = 0
    worst_m = 0.0
    n = min(args.clips, len(data.ids))
    with torch.no_grad():
        for k in range(n):
            clip = data.clip(k)
            t = min(clip.frames, cfg.data.max_frames) // step
            x = torch.from_numpy(norm.normalize(np.stack([clip.f1[:t * step], clip.f2[:t * step]])).astype(np.float32))
            codes = full.encode(x)
            same += int((codes == half.encode(x)).sum())
            total += codes.numel()
            a, b = (norm.denormalize(vq.decode(codes).numpy()) for vq in (full, half))
            worst_m = max(worst_m, float(np.abs(features_to_joints(a) - features_to_joints(b)).max()))
    publish({"vq": str(args.vq), "clips": n, "token_positions": total, "codes_equal": same,
             "codes_equal_share": same / total, "decoded_joint_max_diff_m": worst_m}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
