"""Copy a trained checkpoint into the repository's bundle (checkpoints/<dataset>/<name>) for shipping.

    python train/bundle.py --src runs/t2m/best --dst checkpoints/intersynth/intermask --vq checkpoints/intersynth/vq

Drops the resumable training state (optimiser moments would triple the size), points ``vq_dir`` at the bundled
VQ-VAE with a relative path so the bundle works from any clone, and keeps config.json, weights, stats and card.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

SHIPPED = ("config.json", "model.safetensors", "stats.npz", "card.md", "log.jsonl")


def bundle(src: Path, dst: Path, vq: Path | None = None) -> Path:
    if not (src / "config.json").exists():
        raise SystemExit(f"{src} is not a checkpoint directory (no config.json)")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in SHIPPED:
        if (src / name).exists():
            shutil.copy2(src / name, tmp / name)
    if vq is not None:
        meta = json.loads((tmp / "config.json").read_text())
        meta["vq_dir"] = os.path.relpath(vq.resolve(), dst.resolve())
        (tmp / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True, type=Path)
    p.add_argument("--dst", required=True, type=Path)
    p.add_argument("--vq", type=Path, default=None, help="bundled VQ-VAE directory (transformers only)")
    args = p.parse_args(argv)
    print(bundle(args.src, args.dst, args.vq))
    return 0


if __name__ == "__main__":
    sys.exit(main())
