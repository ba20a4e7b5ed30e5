"""The Inter-X data set on disk and its items (docs/design-notes.md, "Data sets"). Needs ``h5py``.

Layout under ``root``: ``motions/{train,val,test}.h5`` (one dataset per sequence, (T, 56, 6): rows 0..54 SMPL-X
axis-angles — root, 21 body joints, jaw, eyes, 15 + 15 hand joints — and row 55 the root translation; the last
axis is [person 1 xyz | person 2 xyz]), ``texts_processed/<name>.txt`` ("caption#tok/POS ...#f_tag#to_tag" lines)
and ``splits/{train,val,test}.txt``.

Per-person tensor (the official "smpl" representation, not normalised): (T, 56, 6) with rows 0..54 the 6D
rotation in the pytorch3d layout used by the official Inter-X checkpoints — the first two *rows* of the matrix,
[R00, R01, R02, R10, R11, R12], unlike InterHuman's two-column layout — and row 55 = [translation, translation
velocity] with the last frame's velocity 0.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError

SPLITS = ("train", "val", "test")
MIN_FRAMES = 24
MAX_FRAMES = 1000  # sequences must be shorter than this
MAX_MOTION_LENGTH = 150
UNIT_LENGTH = 4
NUM_ROWS = 56


def matrix_to_rot6d_rows(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) → (..., 6) as the first two rows [R00, R01, R02, R10, R11, R12] (pytorch3d layout)."""
    m = np.asarray(m)
    return m[..., :2, :].reshape(m.shape[:-2] + (6,))


def rot6d_rows_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Inverse of :func:`matrix_to_rot6d_rows` with Gram–Schmidt (rows b1, b2, b1×b2)."""
    d6 = np.asarray(d6, dtype=np.float64)
    b1 = d6[..., :3] / np.maximum(np.linalg.norm(d6[..., :3], axis=-1, keepdims=True), 1e-9)
    b2 = d6[..., 3:] - np.sum(b1 * d6[..., 3:], -1, keepdims=True) * b1
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=-1, keepdims=True), 1e-9)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-2)


def person_tensor(seq: np.ndarray, person: int) -> np.ndarray:
    """One person of a raw sequence (T, 56, 6) → the (T, 56, 6) 6D + translation tensor (float32)."""
    seq = np.asarray(seq, dtype=np.float64)
    xyz = seq[:, :, 3 * person:3 * person + 3]
    out = np.empty((seq.shape[0], NUM_ROWS, 6))
    out[:, :55] = matrix_to_rot6d_rows(sk.axis_angle_to_matrix(xyz[:, :55]))
    trans = xyz[:, 55]
    vel = np.zeros_like(trans)
    vel[:-1] = trans[1:] - trans[:-1]
    out[:, 55] = np.concatenate([trans, vel], -1)
    return out.astype(np.float32)


def _lines(path: Path) -> list[str]:
    return [x.strip() for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]


def _tag(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        return float("nan")
    return v


def read_texts(path: Path) -> list[tuple[str, list[str]]]:
    """(caption, tokens) per line of a texts_processed file; only whole-sequence lines (tags 0 or NaN)."""
    out = []
    for k, line in enumerate(_lines(path), 1):
        parts = line.split("#")
        if len(parts) < 4:
            raise InterMaskError(f"Line {k} of {path} is not 'caption#tokens#f_tag#to_tag'.")
        caption, tokens, f_tag, to_tag = parts[0].strip(), parts[1].split(), _tag(parts[2]), _tag(parts[3])
        for tag in (f_tag, to_tag):
            if not (math.isnan(tag) or tag == 0.0):
                raise InterMaskError(f"Line {k} of {path} describes a sub-segment ({parts[2]}–{parts[3]} s); only "
                                     "whole-sequence descriptions (tags 0 or NaN) are supported, as in Inter-X.")
        if caption:
            out.append((caption, tokens))
    return out


def _h5py():
    try:
        import h5py
    except ImportError:
        raise InterMaskError("Reading Inter-X needs the h5py package: pip install h5py==3.16.0.") from None
    return h5py


def load_split(root: str | Path, split: str) -> dict[str, np.ndarray]:
    """All usable raw sequences (T, 56, 6) of a split: listed in splits/<split>.txt, in the .h5, 24 ≤ T < 1000."""
    root = Path(root)
    if split not in SPLITS:
        raise InterMaskError(f"Unknown split '{split}'; expected one of {', '.join(SPLITS)}.")
    h5_path = root / "motions" / f"{split}.h5"
    split_path = root / "splits" / f"{split}.txt"
    for p in (h5_path, split_path):
        if not p.is_file():
            raise InterMaskError(f"No Inter-X data at {root}: the file {p} is missing.")
    h5py = _h5py()
    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(h5_path, "r") as h5:
            for name in dict.fromkeys(_lines(split_path)):
                if name not in h5:
                    continue
                ds = h5[name]
                if ds.ndim != 3 or ds.shape[1:] != (NUM_ROWS, 6):
                    raise InterMaskError(f"Sequence {name} in {h5_path} has shape {ds.shape}; expected (T, 56, 6).")
                if MIN_FRAMES <= ds.shape[0] < MAX_FRAMES:
                    out[name] = np.asarray(ds[()], dtype=np.float32)
    except OSError as exc:
        raise InterMaskError(f"Could not read {h5_path} as HDF5 ({exc}).") from None
    return out


class InterXDataset:
    """Text–motion items: {name, text, tokens, motion (150, 56, 12) float32, length}.

    motion[..., :6] is person 1's tensor, motion[..., 6:] person 2's (see :func:`person_tensor`); frames past
    ``length`` are zero. Random draws come from ``np.random.default_rng([seed, epoch, index])``.
    """

    def __init__(self, root: str | Path, split: str, max_length: int = MAX_MOTION_LENGTH, seed: int = 0):
        self.root = Path(root)
        self.max_length = max_length
        self.seed = seed
        self.epoch = 0
        seqs = load_split(self.root, split)
        self.names, self.sequences, self.texts = [], [], []
        for name, seq in seqs.items():
            path = self.root / "texts_processed" / f"{name}.txt"
            texts = read_texts(path) if path.is_file() else []
            if texts:
                self.names.append(name)
                self.sequences.append(seq)
                self.texts.append(texts)
        if not self.names:
            raise InterMaskError(f"The {split} split of {self.root} has no sequence of {MIN_FRAMES}–{MAX_FRAMES - 1} "
                                 "frames with a description.")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.names)

    def descriptions(self, index: int) -> list[str]:
        return [c for c, _ in self.texts[index]]

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        caption, tokens = self.texts[index][int(rng.integers(len(self.texts[index])))]
        seq = self.sequences[index]
        length = seq.shape[0]
        units = length // UNIT_LENGTH
        m = units * UNIT_LENGTH if rng.random() < 2 / 3 else (units - 1) * UNIT_LENGTH
        m = min(m, self.max_length)
        start = int(rng.integers(0, length - m + 1))
        crop = seq[start:start + m]
        motion = np.zeros((self.max_length, NUM_ROWS, 12), dtype=np.float32)
        motion[:m, :, :6] = person_tensor(crop, 0)
        motion[:m, :, 6:] = person_tensor(crop, 1)
        return {"name": self.names[index], "text": caption, "tokens": list(tokens), "motion": motion, "length": m}


def split_persons(motion: np.ndarray) -> np.ndarray:
    """(…, T, 56, 12) item motion → (…, 2, T, 56, 6) with the person axis first."""
    motion = np.asarray(motion)
    return np.stack([motion[..., :6], motion[..., 6:]], axis=-4)


def collate(batch: list[dict]) -> dict:
    import torch

    return {
        "name": [b["name"] for b in batch], "text": [b["text"] for b in batch],
        "tokens": [b["tokens"] for b in batch],
        "motion": torch.from_numpy(np.stack([b["motion"] for b in batch])),
        "length": torch.tensor([b["length"] for b in batch], dtype=torch.long),
    }


class InterXWindows:
    """Single-person windows (window, 56, 6) for the VQ-VAE: both persons as separate samples, no mirroring."""

    def __init__(self, root: str | Path, split: str, window: int = 64, stride: int = 10):
        self.window = window
        self.sequences = [person_tensor(seq, p) for seq in load_split(root, split).values()
                          if seq.shape[0] >= window for p in (0, 1)]
        self.index = [(s, t) for s, seq in enumerate(self.sequences)
                      for t in range(0, seq.shape[0] - window + 1, stride)]
        if not self.index:
            raise InterMaskError(f"The {split} split of {root} has no sequence of at least {window} frames.")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> np.ndarray:
        s, t = self.index[index]
        return self.sequences[s][t:t + self.window]
