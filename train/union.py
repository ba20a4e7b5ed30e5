#!/usr/bin/env python
"""One training set from several InterHuman-layout data sets, made of symbolic links (no motion is copied).

    python -m intermask synth --out data/intersynth_seed5 --num 8000 --seed 5
    python train/union.py --out data/intersynth_union data/intersynth data/intersynth_seed5

The union's training split holds the training clips of every root; its validation and test splits are those of
the first root alone, so a model trained on the union is validated, probed and evaluated on exactly the clips a
model trained on the first root is. Clips of the first root keep their ids (results name the same clips either
way); those of root k ≥ 2 are renamed ``u<k>_<id>``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intermask.data.interhuman import split_ids
from intermask.errors import InterMaskError

# Per-clip files of the InterHuman layout (labels are InterSynth's and optional).
CLIP_FILES = (("motions_processed/person1", ".npy"), ("motions_processed/person2", ".npy"), ("annots", ".txt"),
              ("labels", ".json"))


def clip_name(root_index: int, cid: str) -> str:
    return cid if root_index == 0 else f"u{root_index + 1}_{cid}"


def union(roots: list[Path], out: Path) -> dict[str, int]:
    """Write the union of ``roots`` at ``out``; returns the clips per split."""
    if len(roots) < 2:
        raise InterMaskError("A union needs at least two data roots.")
    if out.exists() and any(out.iterdir()):
        raise InterMaskError(f"{out} exists and is not empty; choose a new folder.")
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for k, root in enumerate(roots):
        for split in splits if k == 0 else ("train",):
            for cid in split_ids(root, split):  # (the ignore lists of each root apply here)
                name = clip_name(k, cid)
                for folder, ext in CLIP_FILES:
                    source = (root / folder / f"{cid}{ext}").resolve()
                    if not source.is_file():
                        if folder == "labels":
                            continue
                        raise InterMaskError(f"{source} is missing: {root} is not a complete InterHuman layout.")
                    target = out / folder / f"{name}{ext}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(source, target)
                splits[split].append(name)
    (out / "split").mkdir(parents=True, exist_ok=True)
    for split, names in splits.items():
        (out / "split" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    (out / "union.json").write_text(json.dumps(
        {"roots": [str(r.resolve()) for r in roots], "clips": {s: len(n) for s, n in splits.items()}}, indent=1))
    return {s: len(n) for s, n in splits.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="data roots; the first gives the val and test splits")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        counts = union(args.roots, args.out)
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
