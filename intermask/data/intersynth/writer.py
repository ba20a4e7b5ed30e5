"""Write InterSynth in the InterHuman on-disk layout, in parallel, byte-identical for a given seed.

<out>/motions_processed/person{1,2}/<id>.npy  raw (T, 492) float32 Z-up, 30 fps
<out>/annots/<id>.txt                          three descriptions, one per line
<out>/labels/<id>.json                         category, actor, side, limb, count, segments, ...
<out>/split/{train,val,test}.txt               80 / 5 / 15, from the seed
<out>/intersynth.json                          how the set was made (seed, number of clips, version)
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

from intermask.data.intersynth.compose import clip_seed, generate_clip
from intermask.atomic import atomic_path
from intermask.errors import InterMaskError
from intermask.motion.features import make_raw

VERSION = 1
SPLIT_FRACTIONS = (0.80, 0.05, 0.15)


def clip_id(index: int) -> str:
    return f"{index:06d}"


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_clip(out: Path, seed: int, index: int) -> int:
    """Generate and write clip ``index``; returns its frame count."""
    import io

    clip = generate_clip(clip_seed(seed, index))
    cid = clip_id(index)
    for p in (0, 1):
        buf = io.BytesIO()
        np.save(buf, make_raw(clip.joints[p], clip.rot6d[p]))
        _write_atomic(out / "motions_processed" / f"person{p + 1}" / f"{cid}.npy", buf.getvalue())
    _write_atomic(out / "annots" / f"{cid}.txt", ("\n".join(clip.texts) + "\n").encode())
    _write_atomic(out / "labels" / f"{cid}.json", json.dumps(clip.label, sort_keys=True, indent=1).encode())
    return int(clip.joints.shape[1])


def _work(args) -> int:
    out, seed, index = args
    return write_clip(Path(out), seed, index)


def splits(num: int, seed: int) -> dict[str, list[str]]:
    """Deterministic 80/5/15 split of clip ids (sorted within each split)."""
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 7919])).permutation(num)
    n_train = int(round(num * SPLIT_FRACTIONS[0]))
    n_val = int(round(num * SPLIT_FRACTIONS[1]))
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    return {k: [clip_id(i) for i in sorted(v)] for k, v in parts.items()}


def write_dataset(out: str | os.PathLike, num: int = 8000, seed: int = 0, workers: int = 1,
                  progress: bool = True) -> dict:
    """Write ``num`` clips to ``out``; returns {"clips", "frames"}. Same seed → byte-identical files."""
    if num < 1:
        raise InterMaskError(f"--num must be at least 1; got {num}.")
    if workers < 1:
        raise InterMaskError(f"--workers must be at least 1; got {workers}.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InterMaskError(f"The output path {out} exists and is not a directory; choose a directory.")
    for sub in ("motions_processed/person1", "motions_processed/person2", "annots", "labels", "split"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), int(seed), i) for i in range(num)]
    from tqdm import tqdm

    bar = tqdm(total=num, desc="InterSynth", unit="clip", disable=not progress)
    frames = []
    if workers == 1:
        for job in jobs:
            frames.append(_work(job))
            bar.update()
    else:
        # Spawned workers re-import the package only; each clip depends on (seed, index) alone.
        with mp.get_context("spawn").Pool(workers) as pool:
            for f in pool.imap(_work, jobs, chunksize=16):
                frames.append(f)
                bar.update()
    bar.close()
    for name, ids in splits(num, seed).items():
        _write_atomic(out / "split" / f"{name}.txt", "".join(i + "\n" for i in ids).encode())
    meta = {"name": "InterSynth", "version": VERSION, "seed": int(seed), "clips": num, "fps": 30,
            "frames": int(sum(frames))}
    _write_atomic(out / "intersynth.json", json.dumps(meta, sort_keys=True, indent=1).encode())
    return {"clips": num, "frames": int(sum(frames))}
