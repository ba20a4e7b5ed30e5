"""The Interaction type: a two-person motion in one world frame, and its ``.npz`` exchange file.

Layout: ``joints`` float32 (2, T, 22, 3) metres, Y-up, floor at y = 0; ``rot6d`` float32
(2, T, 21, 6) local joint rotations of joints 1..21 in the InterHuman 6D layout; ``fps``; ``text``;
optional ``features`` (2, T, 262) de-normalised. Person 0 is "A" (the actor or uploaded partner), 1 is "B".
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from intermask.errors import InterMaskError
from intermask.motion.features import FPS
from intermask.motion.files import check_file, open_npz

FORMAT_VERSION = 1


@dataclass
class Interaction:
    joints: np.ndarray  # (2, T, 22, 3)
    rot6d: np.ndarray  # (2, T, 21, 6)
    fps: int = FPS
    text: str = ""
    features: np.ndarray | None = None  # (2, T, 262)
    meta: dict = field(default_factory=dict)  # settings that produced it (seed, guidance, checkpoint...)

    def __post_init__(self) -> None:
        self.joints = np.ascontiguousarray(self.joints, dtype=np.float32)
        self.rot6d = np.ascontiguousarray(self.rot6d, dtype=np.float32)
        if self.features is not None:
            self.features = np.ascontiguousarray(self.features, dtype=np.float32)
        self.validate()

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[1])

    @property
    def seconds(self) -> float:
        return self.num_frames / float(self.fps)

    def validate(self) -> None:
        j, r = self.joints, self.rot6d
        if j.ndim != 4 or j.shape[0] != 2 or j.shape[2:] != (22, 3):
            raise InterMaskError(f"Interaction joints must have shape (2, T, 22, 3); got {tuple(j.shape)}.")
        if r.shape != (2, j.shape[1], 21, 6):
            raise InterMaskError(
                f"Interaction rot6d must have shape (2, {j.shape[1]}, 21, 6) to match the joints; "
                f"got {tuple(r.shape)}.")
        if self.features is not None and self.features.shape != (2, j.shape[1], 262):
            raise InterMaskError(
                f"Interaction features must have shape (2, {j.shape[1]}, 262); got {tuple(self.features.shape)}.")
        if not (np.isfinite(j).all() and np.isfinite(r).all()):
            raise InterMaskError("Interaction contains NaN or Inf values.")

    def person(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(joints (T, 22, 3), rot6d (T, 21, 6)) of one person."""
        return self.joints[index], self.rot6d[index]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ``.npz`` exchange file atomically (a reader never sees a half-written file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "joints": self.joints, "rot6d": self.rot6d, "fps": np.int32(self.fps),
            "text": np.array(self.text), "format_version": np.int32(FORMAT_VERSION),
            "meta": np.array(json.dumps(self.meta, sort_keys=True, default=str)),
        }
        if self.features is not None:
            arrays["features"] = self.features
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    @classmethod
    def from_npz_arrays(cls, data) -> "Interaction":
        """Build from an opened ``np.load(..., allow_pickle=False)`` archive of the exchange format."""
        def scalar_str(key: str, default: str = "") -> str:
            if key not in data:
                return default
            return str(data[key].item()) if data[key].shape == () else str(data[key])

        meta_text = scalar_str("meta", "{}")
        try:
            meta = json.loads(meta_text) if meta_text else {}
        except json.JSONDecodeError:
            meta = {}
        return cls(
            joints=data["joints"], rot6d=data["rot6d"],
            fps=int(data["fps"]) if "fps" in data else FPS,
            text=scalar_str("text"),
            features=data["features"] if "features" in data else None,
            meta=meta if isinstance(meta, dict) else {},
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Interaction":
        """Load an ``.npz`` exchange file, checked like an upload (see :func:`load_interaction`)."""
        return load_interaction(path)

    def slice(self, start: int, stop: int) -> "Interaction":
        f = None if self.features is None else self.features[:, start:stop]
        return Interaction(self.joints[:, start:stop], self.rot6d[:, start:stop], self.fps, self.text, f,
                           dict(self.meta))


def load_interaction(path: str | os.PathLike) -> Interaction:
    """Load and validate an ``.npz`` exchange file → :class:`Interaction` (files from anywhere are safe here)."""
    path = Path(path)
    check_file(path)
    if path.suffix.lower() != ".npz":
        raise InterMaskError(f"An interaction file must be an .npz exchange file; got '{path.name}'.")
    data = open_npz(path)
    for key in ("joints", "rot6d"):
        if key not in data:
            raise InterMaskError(f"{path.name} has no '{key}' array; an interaction file holds 'joints' "
                                 "(2, T, 22, 3), 'rot6d' (2, T, 21, 6), 'fps' and 'text'.")
    for key, arr in data.items():
        if arr.dtype.kind not in "fiuU" or (key in ("joints", "rot6d", "features") and arr.dtype.kind != "f"):
            raise InterMaskError(f"Array '{key}' in {path.name} has the unsupported type {arr.dtype}.")
    if "fps" in data and (data["fps"].shape != () or not 1 <= float(data["fps"]) <= 1000):
        raise InterMaskError(f"{path.name} has an invalid 'fps' entry; expected one number between 1 and 1000.")
    return Interaction.from_npz_arrays(data)
