"""Loading motion files: the ``.npz`` exchange file and uploaded partner motions for reaction generation.

Accepted partner sources:
- an :class:`Interaction` (person 0 is taken) or a numpy array of one of the shapes below;
- ``.npz``: the exchange format (person 0) or an archive with a ``joints`` array (T, 22, 3) and optionally
  ``rot6d`` (T, 21, 6) and ``fps``;
- ``.npy``: (T, 22, 3) joints (Y-up metres), (T, 262) de-normalised InterHuman features, or (T, 492) raw
  InterHuman (Z-up);
- ``.bvh`` with the SMPL 22-joint naming (see :mod:`intermask.motion.bvh`); the first person is taken.

Motions to edit (two persons, :func:`load_pair`): an Interaction, the ``.npz`` exchange file, ``.npy`` joints
(2, T, 22, 3) or a ``.bvh`` with two roots.

Everything is validated before use and refused with an InterMaskError sentence: files are never unpickled,
sizes and lengths are bounded, values must be finite and human-sized. The result is Y-up metres, floor at
y = 0 (lowest joint over the clip), otherwise in the file's own world placement, at 30 fps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.motion import features as ft
from intermask.motion.bvh import read_bvh
from intermask.motion.features import FPS
from intermask.motion.files import ACCEPTED, MAX_FILE_BYTES, check_file, load_npy, open_npz
from intermask.motion.interaction import Interaction, load_interaction
from intermask.motion.solver import solve_rotations

MIN_FRAMES = 8
MAX_SECONDS = 600  # 10 minutes of upload
MAX_FRAMES = MAX_SECONDS * FPS
MIN_BODY_EXTENT_M = 0.5  # median per-frame bounding-box diagonal of the 22 joints
MAX_BODY_EXTENT_M = 3.0
MAX_BONE_VARIATION = 0.25  # median over bones of std/mean of the bone length over time


@dataclass
class PartnerMotion:
    joints: np.ndarray  # (T, 22, 3) float32, Y-up metres, floor at 0
    rot6d: np.ndarray  # (T, 21, 6) float32 local rotations of joints 1..21
    fps: float
    source: str  # a short description of where it came from

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])


# ------------------------------------------------------------------------------------------------------
# Validation and conversion of one person
# ------------------------------------------------------------------------------------------------------

def _float_array(arr, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        raise InterMaskError(f"The {what} must be a floating-point array; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InterMaskError(f"The {what} contains NaN or Inf values.")
    return arr


def _frames_at_target(frames: int, fps: float) -> int:
    """Frame count after resampling to FPS (never past the last source frame)."""
    return int(np.floor((frames - 1) * FPS / fps + 1e-6)) + 1


def _check_length(frames: int, fps: float) -> None:
    if not np.isfinite(fps) or not 1 <= fps <= 1000:
        raise InterMaskError(f"The frame rate must be between 1 and 1000 fps; got {fps}.")
    n = _frames_at_target(frames, fps)
    if n > MAX_FRAMES:
        raise InterMaskError(f"The motion lasts {frames / fps:.0f} s; at most {MAX_SECONDS // 60} minutes "
                             f"({MAX_FRAMES} frames at {FPS} fps) is accepted.")
    if n < MIN_FRAMES or frames < 2:
        raise InterMaskError(f"The motion has {n} frames at {FPS} fps; at least {MIN_FRAMES} are needed.")


def _check_body(joints: np.ndarray) -> None:
    """Refuse motions that are not a human in metres (centimetres, millimetres, normalised features...)."""
    extent = np.median(np.linalg.norm(joints.max(1) - joints.min(1), axis=-1))
    if extent > MAX_BODY_EXTENT_M or extent < MIN_BODY_EXTENT_M:
        hint = " It looks like centimetres or millimetres; convert to metres." if extent > 10 else ""
        raise InterMaskError(f"The body measures {extent:.3g} units across, which is not a person in metres "
                             f"(expected {MIN_BODY_EXTENT_M}–{MAX_BODY_EXTENT_M} m).{hint}")
    lengths = sk.bone_lengths(joints)
    variation = np.median(lengths.std(0) / np.maximum(lengths.mean(0), 1e-6))
    if variation > MAX_BONE_VARIATION:
        raise InterMaskError("The joints do not keep constant bone lengths over time, so they are not a 22-joint "
                             "SMPL skeleton in the expected order (normalised features are not accepted; "
                             "de-normalise them first).")


def resample(joints: np.ndarray, rot6d: np.ndarray, fps: float, target: float = FPS
             ) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling of joints to ``target`` fps; rotations are re-solved with the interpolated ones as hint."""
    t = joints.shape[0]
    n = max(2, int(np.floor((t - 1) * target / fps + 1e-6)) + 1)  # never past the last source frame
    src = np.arange(t) / fps
    dst = np.minimum(np.arange(n) / target, src[-1])
    k = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, t - 2)
    w = ((dst - src[k]) * fps)[:, None, None]
    new_joints = joints[k] * (1 - w) + joints[k + 1] * w
    hint = rot6d[k] * (1 - w) + rot6d[k + 1] * w
    return new_joints, solve_rotations(new_joints, hint)


def _finish(joints: np.ndarray, rot6d: np.ndarray | None, fps: float, source: str,
            floor: bool = True) -> PartnerMotion:
    _check_length(joints.shape[0], fps)
    _check_body(joints)
    if rot6d is None:
        rot6d = solve_rotations(joints)
    if abs(fps - FPS) > 1e-6:
        joints, rot6d = resample(joints, rot6d, fps)
        source += f", resampled from {fps:g} to {FPS} fps"
    joints = joints.copy()
    if floor:
        joints[..., 1] -= joints[..., 1].min()
    return PartnerMotion(joints.astype(np.float32), np.asarray(rot6d, dtype=np.float32), float(FPS), source)


def _from_array(arr, fps: float, source: str) -> PartnerMotion:
    arr = np.asarray(arr)
    shape = arr.shape
    if arr.ndim == 3 and shape[1:] == (22, 3):
        return _finish(_float_array(arr, "joint array"), None, fps, source + " (joints)")
    if arr.ndim == 2 and shape[1] == ft.FEATURE_DIM:
        f = _float_array(arr, "feature array")
        return _finish(ft.features_to_joints(f), _rot6d(ft.features_to_rot6d(f)), fps, source + " (features)")
    if arr.ndim == 2 and shape[1] == ft.RAW_DIM:
        raw = _float_array(arr, "raw InterHuman array")
        pos, rot = ft.split_raw(raw)
        pos = pos.astype(np.float64) @ ft.Z_TO_Y.T  # Z-up → Y-up, as canonicalisation step 1
        return _finish(pos, _rot6d(rot), fps, source + " (raw InterHuman)")
    raise InterMaskError(f"A motion array of shape {shape} is not supported. {ACCEPTED}")


def _rot6d(rot: np.ndarray) -> np.ndarray:
    """Re-orthonormalise stored 6D rotations (files may hold slightly off values)."""
    return sk.matrix_to_rot6d(sk.rot6d_to_matrix(rot))


def _from_npz(data: dict[str, np.ndarray], source: str) -> PartnerMotion:
    if "joints" not in data:
        raise InterMaskError(f"The .npz archive has no 'joints' array (it holds {sorted(data)[:8]}). {ACCEPTED}")
    fps = float(FPS)
    if "fps" in data:
        f = data["fps"]
        if f.shape != () or f.dtype.kind not in "fiu":
            raise InterMaskError("The 'fps' entry of the .npz archive must be a single number.")
        fps = float(f)
    joints = _float_array(data["joints"], "'joints' array")
    rot = data.get("rot6d")
    if joints.ndim == 4 and joints.shape[2:] == (22, 3) and joints.shape[0] >= 1:
        joints = joints[0]
        source += " (person A of an interaction)"
        rot = None if rot is None or rot.ndim != 4 else rot[0]
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise InterMaskError(f"The 'joints' array has shape {joints.shape}; expected (T, 22, 3) or (2, T, 22, 3).")
    if rot is not None:
        rot = _float_array(rot, "'rot6d' array")
        if rot.shape != (joints.shape[0], 21, 6):
            raise InterMaskError(f"The 'rot6d' array has shape {rot.shape}; expected ({joints.shape[0]}, 21, 6).")
        rot = _rot6d(rot)
    _check_length(joints.shape[0], fps)
    return _finish(joints, rot, fps, source)


def load_partner(source, fps: float = FPS) -> PartnerMotion:
    """A partner motion for reaction generation from a path, an Interaction (person 0) or an array.

    ``fps`` is the frame rate of a bare array (files carry their own). The result is at 30 fps.
    """
    if isinstance(source, Interaction):
        return _finish(source.joints[0].astype(np.float64), source.rot6d[0], float(source.fps),
                       "interaction (person A)")
    if isinstance(source, np.ndarray):
        return _from_array(source, fps, "array")
    if not isinstance(source, (str, os.PathLike)):
        raise InterMaskError(f"A partner motion must be a file path, an Interaction or an array; got "
                             f"{type(source).__name__}.")
    path = Path(source)
    check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _from_array(load_npy(path), fps, path.name)
    if suffix == ".npz":
        return _from_npz(open_npz(path), path.name)
    persons = read_bvh(path, max_bytes=MAX_FILE_BYTES)
    first = persons[0]
    note = f" (person 1 of {len(persons)})" if len(persons) > 1 else ""
    _check_length(first.joints.shape[0], first.fps)
    return _finish(first.joints.astype(np.float64), first.rot6d, first.fps, path.name + note)


# ------------------------------------------------------------------------------------------------------
# Two persons (motions to edit)
# ------------------------------------------------------------------------------------------------------
PAIR_ACCEPTED = ("Accepted: an .npz interaction file (joints (2, T, 22, 3), optionally rot6d (2, T, 21, 6) and fps), "
                 ".npy joints of shape (2, T, 22, 3), or a .bvh with two persons (two roots, as `python -m "
                 "intermask export --bvh` writes).")


def _pair(persons: list[tuple[np.ndarray, np.ndarray | None]], fps: float, source: str, text: str = "",
          meta: dict | None = None) -> Interaction:
    """Two persons from a file: each checked and resampled like a partner, then one floor for both."""
    moved = [_finish(_float_array(j, "joint array"), r, fps, source, floor=False) for j, r in persons]
    if moved[0].num_frames != moved[1].num_frames:
        raise InterMaskError(f"The two persons of {source} have {moved[0].num_frames} and {moved[1].num_frames} "
                             "frames; an interaction needs the same number for both.")
    joints = np.stack([m.joints for m in moved])
    joints[..., 1] -= joints[..., 1].min()
    return Interaction(joints, np.stack([m.rot6d for m in moved]), FPS, text,
                       meta={**(meta or {}), "source": source})


def load_pair(source) -> Interaction:
    """A two-person motion from an :class:`Interaction` or a file, at 30 fps, both persons in one world frame.

    An Interaction at 30 fps and an ``.npz`` exchange file (what generate, react, compose and edit write) come back
    as they are, so their frames can be kept bit for bit. Other files (``.npy`` joints (2, T, 22, 3), ``.npz`` with
    only joints, a two-root ``.bvh``) are checked like partner uploads, resampled to 30 fps and put on one floor.
    """
    if isinstance(source, Interaction):
        if int(source.fps) == FPS:
            return source
        return _pair([source.person(0), source.person(1)], float(source.fps), "interaction", source.text,
                     source.meta)
    if not isinstance(source, (str, os.PathLike)):
        raise InterMaskError(f"A motion to edit must be a file path or an Interaction; got {type(source).__name__}.")
    path = Path(source)
    check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        persons = read_bvh(path, max_bytes=MAX_FILE_BYTES)
        if len(persons) < 2:
            raise InterMaskError(f"{path.name} holds {len(persons)} person; editing needs two. {PAIR_ACCEPTED}")
        if abs(persons[0].fps - persons[1].fps) > 1e-6:
            raise InterMaskError(f"The two persons of {path.name} have different frame rates.")
        return _pair([(p.joints, p.rot6d) for p in persons[:2]], persons[0].fps, path.name)
    if suffix == ".npy":
        joints = load_npy(path)
        if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (22, 3):
            raise InterMaskError(f"{path.name} holds an array of shape {joints.shape}. {PAIR_ACCEPTED}")
        return _pair([(joints[0], None), (joints[1], None)], float(FPS), path.name)
    data = open_npz(path)
    joints = data.get("joints")
    if joints is None or joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (22, 3):
        shape = None if joints is None else joints.shape
        raise InterMaskError(f"{path.name} has no two-person 'joints' array (found {shape}). {PAIR_ACCEPTED}")
    fps = float(data["fps"]) if "fps" in data and data["fps"].shape == () else float(FPS)
    if "rot6d" in data and "text" in data and abs(fps - FPS) < 1e-6:
        return load_interaction(path)
    rot = data.get("rot6d")
    if rot is not None:
        rot = _float_array(rot, "'rot6d' array")
        if rot.shape != joints.shape[:2] + (21, 6):
            raise InterMaskError(f"The 'rot6d' array of {path.name} has shape {rot.shape}; expected "
                                 f"{joints.shape[:2] + (21, 6)}.")
        rot = _rot6d(rot)
    text = str(data["text"]) if "text" in data and data["text"].dtype.kind == "U" else ""
    return _pair([(joints[p], None if rot is None else rot[p]) for p in range(2)], fps, path.name, text)
