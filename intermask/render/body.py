"""Skinned body models for rendering: the mannequin-x wooden mannequin (default) and SMPL / SMPL-X.

A :class:`BodyModel` is a rest mesh plus a skeleton and linear-blend-skinning weights, in the SMPL
convention (Y-up, facing +Z, left = +X, rest pose a T-pose with identity joint rotations). Joints 0..21 are
the 22 SMPL body joints in SMPL order for every body; extra joints (hands, fingers, jaw, eyes) follow them
and keep a fixed local rotation (relaxed hands) when a body is posed.

The mannequin needs no licence-restricted files. SMPL / SMPL-X load through the optional ``smplx`` package
(``pip install intermask[smpl]``) from model files the user places in a directory; those files are
unpickled (SMPL ``.pkl``) only because the user put them there, never from an upload.
"""
from __future__ import annotations

import functools
import os
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from intermask import environment
from intermask.errors import InterMaskError

BODY_CHOICES = ("mannequin", "smpl", "smplx")
DETAIL_CHOICES = ("low", "medium", "full")
# Vertices per body for each level of detail; "medium" keeps the wooden look and renders ~2.5x faster.
DETAIL_VERTICES = {"low": 3500, "medium": 7000, "full": None}
BODY_MODELS_ENV = "INTERMASK_BODY_MODELS"
NUM_SMPL_JOINTS = 22


@dataclass(frozen=True)
class BodyModel:
    name: str
    vertices: np.ndarray  # (V, 3) float32 rest mesh, bound with identity joint rotations
    faces: np.ndarray  # (F, 3) int32
    offsets: np.ndarray  # (J, 3) rest offset of each joint from its parent; [0] = pelvis in the model frame
    parents: tuple[int, ...]  # (J,), -1 for the root; every parent index is smaller than its child's
    skin_indices: np.ndarray  # (V, K) int32 joint index of each influence
    skin_weights: np.ndarray  # (V, K) float32, rows sum to 1
    fixed_local: np.ndarray  # (J, 3, 3) local rotation used for joints the motion does not drive (>= 22)
    joint_names: tuple[str, ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def bind_positions(self) -> np.ndarray:
        """Joint positions (J, 3) of the rest pose in which the mesh is bound."""
        return chain_positions(self.offsets, self.parents)

    def smpl_children(self) -> dict[int, list[int]]:
        """Children of each of the 22 SMPL joints among the 22 SMPL joints."""
        out: dict[int, list[int]] = {j: [] for j in range(NUM_SMPL_JOINTS)}
        for j in range(1, NUM_SMPL_JOINTS):
            out[self.parents[j]].append(j)
        return out


def chain_positions(offsets: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    """Positions of joints whose rotations are all identity: cumulative offsets along the chain."""
    pos = np.zeros_like(np.asarray(offsets, dtype=np.float64))
    pos[0] = offsets[0]
    for j in range(1, len(parents)):
        pos[j] = pos[parents[j]] + offsets[j]
    return pos


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (V, 3), unit length."""
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return (vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)).astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# mannequin-x
# ----------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def mannequin_body() -> BodyModel:
    """The full-resolution mannequin-x "wooden" body (24k vertices), bound in its flat-hand T-pose.

    mannequin-x exposes posed vertices but not its skinning data; we read the bound rest mesh, the four
    strongest influences per vertex and the skeleton from the instance (pinned mannequin-x 0.3.x) so that
    skinning can be vectorised over frames here.
    """
    try:
        from mannequin import Mannequin
    except ImportError as exc:  # a broken install, not a user choice
        raise InterMaskError("The default body needs the 'mannequin-x' package: pip install mannequin-x.") from exc
    m = Mannequin("wooden")
    ident = getattr(m, "_identity", None)
    if not ident or "skin_vertices" not in ident or getattr(m, "_skin_weights", None) is None:
        raise InterMaskError("This mannequin-x version is not supported; install mannequin-x==0.3.0.")
    offsets = np.asarray(ident["local_joint_offsets"], dtype=np.float64)
    parents = tuple(int(p) for p in m.parents)
    rest = m.joint_transforms(m.rest_pose())  # rest: body joints identity, fingers in the relaxed hand mean
    glob = np.asarray(rest[:, :3, :3], dtype=np.float64)
    fixed = glob.copy()
    for j in range(1, len(parents)):
        fixed[j] = glob[parents[j]].T @ glob[j]
    fixed[:NUM_SMPL_JOINTS] = np.eye(3)
    body = BodyModel(
        name="mannequin",
        vertices=np.asarray(ident["skin_vertices"], dtype=np.float32),
        faces=np.asarray(m.faces, dtype=np.int32),
        offsets=offsets,
        parents=parents,
        skin_indices=np.asarray(m._skin_joint_indices, dtype=np.int32),
        skin_weights=np.asarray(m._skin_weights, dtype=np.float32),
        fixed_local=fixed,
        joint_names=tuple(m.joint_names),
    )
    bind = np.asarray(ident["skin_bind_positions"], dtype=np.float64)
    if np.abs(bind[:NUM_SMPL_JOINTS] - body.bind_positions()[:NUM_SMPL_JOINTS]).max() > 1e-4:
        raise InterMaskError("This mannequin-x version is not supported; install mannequin-x==0.3.0.")
    return body


# ----------------------------------------------------------------------------------------------------
# Level of detail
# ----------------------------------------------------------------------------------------------------

def decimate(body: BodyModel, target_vertices: int) -> BodyModel:
    """A lower-resolution copy of a body: quadric edge collapse, skin weights averaged over merged vertices.

    Needs ``fast-simplification``; without it the full mesh is returned with a warning.
    """
    if body.num_vertices <= target_vertices:
        return body
    try:
        import fast_simplification
    except ImportError:
        warnings.warn("fast-simplification is not installed; rendering the full-resolution body (slower).",
                      stacklevel=2)
        return body
    reduction = 1.0 - target_vertices / body.num_vertices
    _, _, collapses = fast_simplification.simplify(body.vertices, body.faces, target_reduction=reduction,
                                                   return_collapses=True)
    points, faces, mapping = fast_simplification.replay_simplification(
        body.vertices.astype(np.float64), body.faces.astype(np.int64), collapses)
    n_new = points.shape[0]
    keep = mapping >= 0
    # Dense per-joint weights, averaged over every original vertex merged into a new one.
    dense = np.zeros((body.num_vertices, body.num_joints), np.float64)
    rows = np.repeat(np.arange(body.num_vertices), body.skin_indices.shape[1])
    # add, not put: a rigidly bound vertex lists one joint four times with weights (1, 0, 0, 0)
    np.add.at(dense, (rows, body.skin_indices.reshape(-1)), body.skin_weights.reshape(-1).astype(np.float64))
    merged = np.zeros((n_new, body.num_joints))
    np.add.at(merged, mapping[keep], dense[keep])
    orphans = np.flatnonzero(merged.sum(axis=1) <= 0)
    if orphans.size:  # new vertices no original vertex was merged into: copy the nearest one's weights
        from scipy.spatial import cKDTree

        _, near = cKDTree(body.vertices).query(points[orphans])
        merged[orphans] = dense[near]
    k = body.skin_indices.shape[1]
    idx = np.argsort(merged, axis=1)[:, -k:]
    w = np.take_along_axis(merged, idx, axis=1)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return replace(body, vertices=points.astype(np.float32), faces=faces.astype(np.int32),
                   skin_indices=idx.astype(np.int32), skin_weights=w.astype(np.float32))


@functools.lru_cache(maxsize=8)
def _cached_detail(name: str, body_models: str | None, gender: str, detail: str) -> BodyModel:
    base = mannequin_body() if name == "mannequin" else smpl_body(body_models, name, gender)
    target = DETAIL_VERTICES[detail]
    return base if target is None else decimate(base, target)


_LOAD_LOCK = threading.RLock()


def load_body(name: str = "mannequin", body_models: str | os.PathLike | None = None, *,
              detail: str = "medium", gender: str = "neutral") -> BodyModel:
    """The body used for rendering and export.

    name: "mannequin" (default, no files needed), "smpl" or "smplx" (model files from ``body_models`` or the
    INTERMASK_BODY_MODELS environment variable). detail: "low", "medium" or "full" mesh resolution.
    """
    if name not in BODY_CHOICES:
        raise InterMaskError(f"Unknown body '{name}'; choose one of {', '.join(BODY_CHOICES)}.")
    if detail not in DETAIL_CHOICES:
        raise InterMaskError(f"Unknown detail '{detail}'; choose one of {', '.join(DETAIL_CHOICES)}.")
    with _LOAD_LOCK:  # concurrent first loads crash inside the mesh decimation library (seen in the app)
        return _load_body(name, body_models, gender, detail)


def _load_body(name: str, body_models, gender: str, detail: str) -> BodyModel:
    if name == "mannequin":
        return _cached_detail(name, None, gender, detail)
    directory = body_models or environment.get(BODY_MODELS_ENV)
    if not directory:
        raise InterMaskError(
            f"The '{name}' body needs model files: pass --body-models DIR (or set {BODY_MODELS_ENV}) pointing at a "
            f"directory with {', '.join(_expected_names(name, gender))}. Download them yourself from the SMPL / "
            "SMPL-X websites under their licences, or use --body mannequin.")
    return _cached_detail(name, str(Path(directory).expanduser().resolve()), gender, detail)


# ----------------------------------------------------------------------------------------------------
# SMPL / SMPL-X through smplx (optional extra)
# ----------------------------------------------------------------------------------------------------

def _expected_names(kind: str, gender: str) -> list[str]:
    stem = f"{kind.upper()}_{gender.upper()}"
    exts = (".pkl",) if kind == "smpl" else (".npz", ".pkl")
    return [f"{sub}{stem}{ext}" for sub in ("", f"{kind}/") for ext in exts]


def find_model_file(directory: str | os.PathLike, kind: str, gender: str = "neutral") -> Path:
    """The model file for ``kind`` in ``directory`` (directly or in a ``smpl/`` / ``smplx/`` subfolder)."""
    root = Path(directory)
    for name in _expected_names(kind, gender):
        if (root / name).is_file():
            return root / name
    raise InterMaskError(
        f"No {kind.upper()} model file in {root}: expected one of {', '.join(_expected_names(kind, gender))}. "
        "Put the official model file there, or use --body mannequin.")


@functools.lru_cache(maxsize=4)
def smpl_body(directory: str | None, kind: str = "smplx", gender: str = "neutral") -> BodyModel:
    """An SMPL or SMPL-X body from user-supplied files, loaded by ``smplx`` (shape and pose correctives off)."""
    if directory is None:
        raise InterMaskError(f"The '{kind}' body needs --body-models DIR.")
    path = find_model_file(directory, kind, gender)
    try:
        import smplx
        import torch
    except ImportError as exc:
        raise InterMaskError(
            f"The '{kind}' body needs the optional 'smplx' package: pip install 'intermask[smpl]' "
            "(smplx's code is licensed for non-commercial research only).") from exc
    kwargs = dict(model_type=kind, gender=gender, ext=path.suffix[1:])
    if kind == "smplx":
        kwargs.update(use_pca=False, flat_hand_mean=False, use_face_contour=False)
    try:
        model = smplx.create(str(path), **kwargs)
    except (OSError, ValueError, KeyError, AssertionError, RuntimeError, ImportError, ModuleNotFoundError) as exc:
        raise InterMaskError(f"Could not load the {kind.upper()} model file {path}: {exc}.") from exc
    with torch.no_grad():
        v = model.v_template.detach().double().numpy()
        joints = (model.J_regressor.detach().double() @ model.v_template.detach().double()).numpy()
        weights = model.lbs_weights.detach().double().numpy()
        parents = tuple(int(p) for p in model.parents.detach().numpy())
    parents = (-1,) + parents[1:]
    offsets = joints.copy()
    for j in range(1, len(parents)):
        offsets[j] = joints[j] - joints[parents[j]]
    k = min(4, weights.shape[1])
    idx = np.argsort(weights, axis=1)[:, -k:]
    w = np.take_along_axis(weights, idx, axis=1)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    fixed = np.broadcast_to(np.eye(3), (len(parents), 3, 3)).copy()
    if kind == "smplx" and hasattr(model, "left_hand_mean"):
        from intermask.skeleton import axis_angle_to_matrix

        # SMPL-X hands: joints 25..39 left, 40..54 right; a relaxed hand reads better than a flat one.
        lh = model.left_hand_mean.detach().double().numpy().reshape(15, 3)
        rh = model.right_hand_mean.detach().double().numpy().reshape(15, 3)
        if len(parents) >= 55:
            fixed[25:40] = axis_angle_to_matrix(lh)
            fixed[40:55] = axis_angle_to_matrix(rh)
    if len(parents) < NUM_SMPL_JOINTS:
        raise InterMaskError(f"The model file {path} has {len(parents)} joints; an SMPL body needs at least 22.")
    return BodyModel(
        name=kind, vertices=v.astype(np.float32), faces=np.asarray(model.faces, dtype=np.int32),
        offsets=offsets, parents=parents, skin_indices=idx.astype(np.int32), skin_weights=w.astype(np.float32),
        fixed_local=fixed,
    )
