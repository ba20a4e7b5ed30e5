"""The InterHuman data set on disk and its transformer and VQ items (docs/design-notes.md, "Data sets").

Layout under ``root``: ``motions_processed/person{1,2}/<id>.npy`` raw (T, 492) Z-up, ``annots/<id>.txt`` (one
description per line), ``split/{train,val,test}.txt``, optional ``ignore_list.txt`` (root or ``split/``) and
optional ``labels/<id>.json`` (InterSynth's machine-readable labels, passed through).

Speed: each clip is canonicalised once (``pair_features``, persons in file order) and cached. Everything an
item needs afterwards is an exact, cheap transform of those cached features: mirroring (x → −x and a
left/right permutation commute with canonicalisation), the person swap and the crop (a yaw rotation, a shift
and a new floor, see :func:`reframe`). The tests check both against ``pair_features`` on the raw data.

Randomness: every draw in ``__getitem__`` comes from ``np.random.default_rng([seed, epoch, index])``, so the
same (epoch, index) gives the same item in every process (docs/design-notes.md, "Data parallelism").
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.motion import features as ft
from intermask.motion.mirror import mirror_rot6d, mirror_text
from intermask.motion.normalize import Normalizer
from intermask.motion.touch import touch_weights

SPLITS = ("train", "val", "test")
_CONTACT_MIRROR = [2, 3, 0, 1]  # [l_ankle, l_toe, r_ankle, r_toe] → swap sides


# ------------------------------------------------------------------------------------------------------
# Exact transforms of canonical pair features
# ------------------------------------------------------------------------------------------------------

def mirror_features(feat: np.ndarray) -> np.ndarray:
    """Features (F, 262) of a motion → features of its left/right mirror image (same as mirroring the raw)."""
    f = np.asarray(feat, dtype=np.float32)
    n = f.shape[0]
    perm = list(sk.MIRROR_PERMUTATION)
    out = np.empty_like(f)
    for sl in (ft.POS, ft.VEL):
        v = f[:, sl].reshape(n, 22, 3)[:, perm].copy()
        v[..., 0] *= -1
        out[:, sl] = v.reshape(n, -1)
    out[:, ft.ROT] = mirror_rot6d(f[:, ft.ROT].reshape(n, 21, 6)).reshape(n, -1)
    out[:, ft.CONTACT] = f[:, ft.CONTACT][:, _CONTACT_MIRROR]
    return out


def _positions(feat: np.ndarray) -> np.ndarray:
    """Features (F, 262) → positions of all F + 1 raw frames (F + 1, 22, 3) float64."""
    pos = feat[:, ft.POS].reshape(-1, 22, 3).astype(np.float64)
    last = pos[-1] + feat[-1, ft.VEL].reshape(22, 3)
    return np.concatenate([pos, last[None]], 0)


def reframe(fa: np.ndarray, fb: np.ndarray, start: int = 0, frames: int | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Re-canonicalise a pair on raw frames [start, start + frames) with person ``a`` as the reference.

    fa, fb: features (F, 262) of both persons in one shared world-consistent frame (e.g. ``pair_features``
    output in either order). Returns features (frames − 1, 262) each, equal to ``pair_features`` of the raw
    crop with a first: floor per person over the crop, a's frame-0 root at the x/z origin, a facing +Z.
    """
    pa, pb = _positions(fa), _positions(fb)
    frames = pa.shape[0] - start if frames is None else frames
    pa, pb = pa[start:start + frames].copy(), pb[start:start + frames].copy()
    pa[..., 1] -= pa[..., 1].min()
    pb[..., 1] -= pb[..., 1].min()
    origin = pa[0, 0] * np.array([1.0, 0.0, 1.0])
    across = pa[0, 2] - pa[0, 1]
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    forward /= max(np.linalg.norm(forward), 1e-9)
    rot = sk.quaternion_to_matrix(sk.quaternion_between(forward, np.array([0.0, 0.0, 1.0])))
    out = []
    for pos, f in ((pa, fa), (pb, fb)):
        pos = (pos - origin) @ rot.T
        t = pos.shape[0] - 1
        out.append(np.concatenate([
            pos[:-1].reshape(t, -1), (pos[1:] - pos[:-1]).reshape(t, -1),
            f[start:start + t, ft.ROT], ft.foot_contacts(pos),
        ], axis=1).astype(np.float32))
    return out[0], out[1]


# ------------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------------

def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()]


def split_ids(root: str | Path, split: str) -> list[str]:
    """Clip ids of a split, minus the ignore lists, keeping those whose two motion files exist."""
    root = Path(root)
    if split not in SPLITS:
        raise InterMaskError(f"Unknown split '{split}'; expected one of {', '.join(SPLITS)}.")
    if not (root / "motions_processed").is_dir():
        raise InterMaskError(f"No InterHuman data at {root}: expected the folder {root / 'motions_processed'} "
                             "(unzip motions_processed.zip there).")
    split_file = root / "split" / f"{split}.txt"
    if not split_file.is_file():
        raise InterMaskError(f"The InterHuman split file {split_file} is missing.")
    ignored: set[str] = set()
    for p in (root / "ignore_list.txt", root / "split" / "ignore_list.txt"):
        if p.is_file():
            ignored.update(_read_lines(p))
    out = []
    for cid in dict.fromkeys(_read_lines(split_file)):
        if cid in ignored:
            continue
        if all((root / "motions_processed" / f"person{k}" / f"{cid}.npy").is_file() for k in (1, 2)):
            out.append(cid)
    return out


def mirror_label(label: dict | None) -> dict | None:
    """The label of a mirrored clip: InterSynth's own helper when present, else swap ``side`` left↔right."""
    if label is None:
        return None
    try:
        from intermask.data.intersynth.labels import mirror_label as synth_mirror
    except ImportError:
        synth_mirror = None
    if synth_mirror is not None:
        return synth_mirror(label)
    swap = {"left": "right", "right": "left"}
    out = copy.deepcopy(label)
    for item in [out] + [s for s in out.get("segments") or [] if isinstance(s, dict)]:
        if isinstance(item.get("side"), str):
            item["side"] = swap.get(item["side"], item["side"])
    return out


@dataclass
class Clip:
    cid: str
    f1: np.ndarray  # (L − 1, 262) person 1, canonical
    f2: np.ndarray  # (L − 1, 262) person 2 in person 1's frame
    texts: list[str]
    label: dict | None

    @property
    def frames(self) -> int:
        """Raw frame count L."""
        return self.f1.shape[0] + 1


def load_clip(root: str | Path, cid: str) -> Clip:
    root = Path(root)
    raws = []
    for k in (1, 2):
        path = root / "motions_processed" / f"person{k}" / f"{cid}.npy"
        try:
            raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InterMaskError(f"Could not read {path}: {exc}") from None
        if raw.ndim != 2 or raw.shape[1] < ft.RAW_JOINTS * 3 + 21 * 6 or raw.shape[0] < 2:
            raise InterMaskError(f"{path} has shape {raw.shape}; expected raw InterHuman (T, 492).")
        raws.append(raw)
    if raws[0].shape[0] != raws[1].shape[0]:
        n = min(raws[0].shape[0], raws[1].shape[0])
        raws = [r[:n] for r in raws]
    f1, f2 = ft.pair_features(raws[0], raws[1])
    annot = root / "annots" / f"{cid}.txt"
    texts = _read_lines(annot) if annot.is_file() else []
    return Clip(cid, f1, f2, texts, read_label(root, cid))


def read_label(root: str | Path, cid: str) -> dict | None:
    """``labels/<cid>.json`` (InterSynth's machine-readable label), or None where the data set has none."""
    label_path = Path(root) / "labels" / f"{cid}.json"
    if not label_path.is_file():
        return None
    try:
        return json.loads(label_path.read_text())
    except json.JSONDecodeError as exc:
        raise InterMaskError(f"The label file {label_path} is not valid JSON ({exc.msg}).") from None


def raw_frame_count(root: str | Path, cid: str, person: int = 1) -> int:
    """Frames of a clip (of ``person``'s file) from the .npy header only (no data read)."""
    path = Path(root) / "motions_processed" / f"person{person}" / f"{cid}.npy"
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = read(fh)
    return int(shape[0])


# ------------------------------------------------------------------------------------------------------
# Transformer / evaluation dataset
# ------------------------------------------------------------------------------------------------------

class InterHumanDataset:
    """Text–interaction items. Item: {name, text, motion (2, F, 262) float32, length, label, persons}.

    ``persons[k]`` is the file person (0 or 1) shown in output slot k. ``F`` = max_frames, or train_frames when
    it is > 0 (then a random window of train_frames + 1 raw frames is canonicalised instead of the full crop).
    Mirrored entries (train only by default) come after the originals and are named ``<id>_mirror``.
    """

    def __init__(self, root: str | Path, split: str, normalizer: Normalizer | None = None, max_frames: int = 300,
                 min_frames: int = 15, train_frames: int = 0, mirror: bool | None = None, seed: int = 0,
                 cache: bool = True, swap: bool = True):
        self.root = Path(root)
        self.split = split
        self.normalizer = normalizer
        self.max_frames = max_frames
        self.train_frames = train_frames
        self.mirror = (split == "train") if mirror is None else mirror
        self.seed = seed
        self.swap = swap
        self.epoch = 0
        ids = split_ids(self.root, split)
        if cache:
            clips = [load_clip(self.root, cid) for cid in ids]
            self._clips: list[Clip] | None = [c for c in clips if c.frames >= min_frames]
            self.ids = [c.cid for c in self._clips]
        else:
            self._clips = None
            self.ids = [cid for cid in ids if raw_frame_count(self.root, cid) >= min_frames]
        if not self.ids:
            raise InterMaskError(f"The {split} split of {self.root} has no clips of at least {min_frames} frames.")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.ids) * (2 if self.mirror else 1)

    def _entry(self, index: int) -> tuple[int, bool]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        n = len(self.ids)
        return index % n, index >= n

    def clip(self, index: int) -> Clip:
        k, _ = self._entry(index)
        return self._clips[k] if self._clips is not None else load_clip(self.root, self.ids[k])

    def frames(self, index: int) -> int:
        """Raw frame count of an entry's clip (:attr:`Clip.frames`); without cached motion from the file headers."""
        k, _ = self._entry(index)
        if self._clips is not None:
            return self._clips[k].frames
        return min(raw_frame_count(self.root, self.ids[k], p) for p in (1, 2))

    def name(self, index: int) -> str:
        k, mirrored = self._entry(index)
        return self.ids[k] + ("_mirror" if mirrored else "")

    def descriptions(self, index: int) -> list[str]:
        """All descriptions of an entry (mirrored for mirrored entries)."""
        k, mirrored = self._entry(index)
        if self._clips is not None:
            texts = self._clips[k].texts
        else:  # only the annotation file: loading the motion to read its text would cost ~30 ms per call
            annot = self.root / "annots" / f"{self.ids[k]}.txt"
            texts = _read_lines(annot) if annot.is_file() else []
        return [mirror_text(t) for t in texts] if mirrored else list(texts)

    def label(self, index: int) -> dict | None:
        k, mirrored = self._entry(index)
        # Without cached motion only the label file is read, as for the descriptions.
        label = self._clips[k].label if self._clips is not None else read_label(self.root, self.ids[k])
        return mirror_label(label) if mirrored else copy.deepcopy(label)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        _, mirrored = self._entry(index)
        clip = self.clip(index)
        texts = self.descriptions(index)
        text = texts[int(rng.integers(len(texts)))].strip() if texts else ""
        length = clip.frames
        crop = self.train_frames + 1 if self.train_frames > 0 else self.max_frames
        start = int(rng.integers(0, length - crop)) if length > crop else 0
        n = min(length, crop)
        f1, f2 = (mirror_features(clip.f1), mirror_features(clip.f2)) if mirrored else (clip.f1, clip.f2)
        order = [0, 1]
        if self.swap and rng.random() < 0.5:
            f1, f2, order = f2, f1, [1, 0]
        if start == 0 and n == length and order == [0, 1]:
            m1, m2 = f1, f2  # already canonical for this crop
        else:
            m1, m2 = reframe(f1, f2, start, n)
        motion = np.stack([m1, m2]).astype(np.float32)
        if self.normalizer is not None:
            motion = self.normalizer.normalize(motion)
        pad_to = self.train_frames if self.train_frames > 0 else self.max_frames
        out = np.zeros((2, pad_to, ft.FEATURE_DIM), dtype=np.float32)
        out[:, :motion.shape[1]] = motion[:, :pad_to]
        if self.swap and rng.random() < 0.5:
            out, order = out[::-1].copy(), order[::-1]
        return {"name": self.name(index), "text": text, "motion": out, "length": int(min(n - 1, pad_to)),
                "label": self.label(index), "persons": np.array(order, dtype=np.int64)}


def collate(batch: list[dict]) -> dict:
    """DataLoader collate: tensors for motion (B, 2, F, 262), length (B,), persons (B, 2); lists otherwise."""
    import torch

    return {
        "name": [b["name"] for b in batch],
        "text": [b["text"] for b in batch],
        "motion": torch.from_numpy(np.stack([b["motion"] for b in batch])),
        "length": torch.tensor([b["length"] for b in batch], dtype=torch.long),
        "label": [b["label"] for b in batch],
        "persons": torch.from_numpy(np.stack([b["persons"] for b in batch])),
    }


# ------------------------------------------------------------------------------------------------------
# VQ windows and statistics
# ------------------------------------------------------------------------------------------------------

def _single_sequences(clip: Clip, mirror: bool) -> list[np.ndarray]:
    """p1, p1 mirrored, p2, p2 mirrored (p2 in p1's frame), as in the official VQ dataset."""
    if not mirror:
        return [clip.f1, clip.f2]
    return [clip.f1, mirror_features(clip.f1), clip.f2, mirror_features(clip.f2)]


def _single_touch_weights(sequences: list[np.ndarray]) -> list[np.ndarray]:
    """``touch_weights`` (T, 2) of each of ``_single_sequences``' persons against the other person of the same
    copy (original or mirrored): the list is p1, [p1 mirrored,] p2, [p2 mirrored]."""
    half = len(sequences) // 2
    joints = [ft.features_to_joints(s) for s in sequences]
    return [touch_weights(j, joints[(i + half) % len(joints)]) for i, j in enumerate(joints)]


class InterHumanWindows:
    """Single-person windows (window, 262) for the VQ-VAE; sequences shorter than a window skipped.

    With ``touch`` an item is ``(window, weights)``: weights (window, 2) are the ``touch_weights`` of that
    person's wrists against the other person of the clip (for the VQ's touch term).
    """

    def __init__(self, root: str | Path, split: str, normalizer: Normalizer | None = None, window: int = 64,
                 stride: int = 10, mirror: bool = True, touch: bool = False):
        self.root = Path(root)
        self.normalizer = normalizer
        self.window = window
        self.sequences: list[np.ndarray] = []
        self.clip_ids: list[str] = []  # the clip each sequence comes from
        self.touch: list[np.ndarray] | None = [] if touch else None
        for cid in split_ids(self.root, split):
            clip = load_clip(self.root, cid)
            if clip.f1.shape[0] >= window:
                sequences = _single_sequences(clip, mirror)
                self.sequences.extend(sequences)
                self.clip_ids.extend([cid] * len(sequences))
                if self.touch is not None:
                    self.touch.extend(_single_touch_weights(sequences))
        self.index = [(s, t) for s, seq in enumerate(self.sequences)
                      for t in range(0, seq.shape[0] - window + 1, stride)]
        if not self.index:
            raise InterMaskError(f"The {split} split of {self.root} has no clip with at least {window + 1} frames "
                                 "for VQ windows.")

    def __len__(self) -> int:
        return len(self.index)

    def clip_id(self, index: int) -> str:
        """The id of the clip that window ``index`` is cut from."""
        return self.clip_ids[self.index[index][0]]

    def __getitem__(self, index: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        s, t = self.index[index]
        w = self.sequences[s][t:t + self.window]
        w = (self.normalizer.normalize(w) if self.normalizer is not None else w).astype(np.float32)
        if self.touch is None:
            return w
        return w, self.touch[s][t:t + self.window]


def compute_stats(root: str | Path, split: str = "train", min_std: float = 1e-3) -> Normalizer:
    """Mean/std over all frames of both persons, in both reference orders, with mirrored copies (root x ≈ 0)."""
    total = np.zeros(ft.FEATURE_DIM)
    total_sq = np.zeros(ft.FEATURE_DIM)
    count = 0
    ids = split_ids(root, split)
    if not ids:
        raise InterMaskError(f"The {split} split of {root} lists no clip with motion files.")
    for cid in ids:
        clip = load_clip(root, cid)
        swapped = reframe(clip.f2, clip.f1)
        for f in (clip.f1, clip.f2, *swapped):
            for g in (f, mirror_features(f)):
                g = g.astype(np.float64)
                total += g.sum(0)
                total_sq += (g * g).sum(0)
                count += g.shape[0]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
    return Normalizer(mean, np.maximum(std, min_std))
