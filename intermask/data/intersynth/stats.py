"""Statistics of an InterSynth (or any InterHuman-layout) directory: clips, hours, categories, texts."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from intermask.errors import InterMaskError

_WORD = re.compile(r"[a-z']+")


def dataset_stats(root: str | Path, fps: int = 30) -> dict:
    root = Path(root)
    motions = root / "motions_processed" / "person1"
    if not motions.is_dir():
        raise InterMaskError(f"{root} is not an InterHuman-layout data set: {motions} is missing. "
                             "Point --stats at the directory written by `python -m intermask synth --out`.")
    ids = sorted(p.stem for p in motions.glob("*.npy"))
    frames = []
    for i in ids:
        # The header alone gives the shape: no need to read the motion.
        arr = np.load(motions / f"{i}.npy", mmap_mode="r")
        frames.append(arr.shape[0])
    texts, cats, composite = [], Counter(), 0
    for i in ids:
        annot = root / "annots" / f"{i}.txt"
        if annot.exists():
            texts += [line.strip() for line in annot.read_text().splitlines() if line.strip()]
        lab = root / "labels" / f"{i}.json"
        if lab.exists():
            label = json.loads(lab.read_text())
            cats[label.get("category", "?")] += 1
            composite += bool(label.get("composite"))
    words = [w for t in texts for w in _WORD.findall(t.lower())]
    lengths = [len(_WORD.findall(t.lower())) for t in texts]
    split = {}
    for name in ("train", "val", "test"):
        f = root / "split" / f"{name}.txt"
        split[name] = len(f.read_text().split()) if f.exists() else 0
    frames_arr = np.array(frames) if frames else np.zeros(1)
    return {
        "clips": len(ids), "hours": float(frames_arr.sum() / fps / 3600), "frames": int(frames_arr.sum()),
        "mean_seconds": float(frames_arr.mean() / fps), "min_seconds": float(frames_arr.min() / fps),
        "max_seconds": float(frames_arr.max() / fps), "categories": len(cats), "per_category": dict(sorted(cats.items())),
        "composite_clips": composite, "descriptions": len(texts), "vocabulary": len(set(words)),
        "mean_words_per_text": float(np.mean(lengths)) if lengths else 0.0, "split": split,
    }


def format_stats(s: dict) -> str:
    lines = [f"clips {s['clips']}  ({s['split']})", f"hours {s['hours']:.2f}  frames {s['frames']}",
             f"seconds per clip: mean {s['mean_seconds']:.1f}, min {s['min_seconds']:.1f}, max {s['max_seconds']:.1f}",
             f"categories {s['categories']}, composite clips {s['composite_clips']}",
             f"descriptions {s['descriptions']}, vocabulary {s['vocabulary']} words, "
             f"mean text length {s['mean_words_per_text']:.1f} words"]
    lines += [f"  {k:14s} {v}" for k, v in s["per_category"].items()]
    return "\n".join(lines)
