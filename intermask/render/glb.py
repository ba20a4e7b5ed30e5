"""Animated glTF 2.0 binary (.glb) of both people: two skinned bodies driven by per-joint animation.

Each person is one skinned mesh (the body fitted to that person, bound in its T-pose) with a joint-node
hierarchy, inverse bind matrices, and one animation with a rotation and a translation channel per driven
joint, sampled at the motion's frame rate (LINEAR). The pose is the one the video shows (same fitting and
smoothing), so the GLB plays in ``gr.Model3D``, three.js and Blender with the people where the video has them.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from intermask import skeleton as sk
from intermask.atomic import atomic_path
from intermask.errors import InterMaskError
from intermask.render.body import NUM_SMPL_JOINTS, load_body
from intermask.render.posing import FittedBody, fit_body
from intermask.render.scene import PERSON_COLOURS

FLOAT, UBYTE, USHORT, UINT = 5126, 5121, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
PERSON_NAMES = ("A", "B")


class _Builder:
    """Collects binary blobs and the JSON objects that point into them."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.doc: dict = {"asset": {"version": "2.0", "generator": "intermask"}, "buffers": [], "bufferViews": [],
                          "accessors": [], "nodes": [], "meshes": [], "skins": [], "materials": [],
                          "animations": [], "scenes": [{"nodes": []}], "scene": 0}

    def accessor(self, data: np.ndarray, kind: str, target: int | None = None, minmax: bool = False,
                 normalized: bool = False) -> int:
        data = np.ascontiguousarray(data)
        ctype = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UBYTE, np.dtype(np.uint16): USHORT,
                 np.dtype(np.uint32): UINT}[data.dtype]
        while len(self.blob) % 4:
            self.blob.append(0)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": data.nbytes}
        if target is not None:
            view["target"] = target
        self.blob.extend(data.tobytes())
        self.doc["bufferViews"].append(view)
        count = data.shape[0]
        acc = {"bufferView": len(self.doc["bufferViews"]) - 1, "componentType": ctype, "count": int(count),
               "type": kind}
        if normalized:
            acc["normalized"] = True
        if minmax:
            flat = data.reshape(count, -1)
            acc["min"] = [float(x) for x in flat.min(axis=0)]
            acc["max"] = [float(x) for x in flat.max(axis=0)]
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def node(self, **fields) -> int:
        self.doc["nodes"].append({k: v for k, v in fields.items() if v is not None})
        return len(self.doc["nodes"]) - 1

    def to_bytes(self) -> bytes:
        while len(self.blob) % 4:
            self.blob.append(0)
        self.doc["buffers"] = [{"byteLength": len(self.blob)}]
        text = json.dumps(self.doc, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + len(self.blob)
        return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON") + text
                + struct.pack("<I4s", len(self.blob), b"BIN\x00") + bytes(self.blob))


def _xyzw(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) → glTF quaternions (T, 4) x, y, z, w, continuous over time."""
    q = sk.matrix_to_quaternion(rot)
    for t in range(1, q.shape[0]):
        if np.dot(q[t], q[t - 1]) < 0:
            q[t] = -q[t]
    return np.concatenate([q[:, 1:], q[:, :1]], axis=1).astype(np.float32)


def _add_person(b: _Builder, fitted: FittedBody, index: int, fps: float) -> None:
    body = fitted.body
    J = body.num_joints
    name = PERSON_NAMES[index]
    parents = body.parents
    rot, pos = fitted.rotations.astype(np.float64), fitted.positions.astype(np.float64)
    T = rot.shape[0]
    local_r = rot.copy()
    local_t = pos.copy()
    for j in range(1, J):
        p = parents[j]
        local_r[:, j] = np.swapaxes(rot[:, p], -1, -2) @ rot[:, j]
        local_t[:, j] = np.einsum("tba,tb->ta", rot[:, p], pos[:, j] - pos[:, p])

    # Joint nodes: children lists need every node index first.
    first = len(b.doc["nodes"])
    names = body.joint_names or tuple(sk.JOINT_NAMES) + tuple(f"joint{j}" for j in range(NUM_SMPL_JOINTS, J))
    for j in range(J):
        q = _xyzw(local_r[:1, j])[0]
        b.node(name=f"{name}_{names[j]}", translation=[float(x) for x in local_t[0, j]],
               rotation=[float(x) for x in q])
    for j in range(1, J):
        b.doc["nodes"][first + parents[j]].setdefault("children", []).append(first + j)

    ibm = np.tile(np.eye(4, dtype=np.float32), (J, 1, 1))
    ibm[:, :3, 3] = -fitted.bind
    ibm_acc = b.accessor(ibm.transpose(0, 2, 1).reshape(J, 16), "MAT4")  # column-major
    b.doc["skins"].append({"name": f"person_{name}", "joints": list(range(first, first + J)),
                           "inverseBindMatrices": ibm_acc, "skeleton": first})
    skin = len(b.doc["skins"]) - 1

    from intermask.render.body import vertex_normals

    v = fitted.vertices.astype(np.float32)
    weights = body.skin_weights.astype(np.float32)
    weights = weights / weights.sum(axis=1, keepdims=True)
    k = weights.shape[1]
    if k < 4:  # glTF wants exactly four influences per set
        weights = np.pad(weights, ((0, 0), (0, 4 - k)))
    joints_dtype = np.uint8 if J < 256 else np.uint16
    jidx = np.pad(body.skin_indices, ((0, 0), (0, max(0, 4 - k)))).astype(joints_dtype)
    jidx[weights == 0] = 0  # the spec's convention for unused influences
    attrs = {
        "POSITION": b.accessor(v, "VEC3", ARRAY_BUFFER, minmax=True),
        "NORMAL": b.accessor(vertex_normals(v, body.faces), "VEC3", ARRAY_BUFFER),
        "JOINTS_0": b.accessor(jidx, "VEC4", ARRAY_BUFFER),
        "WEIGHTS_0": b.accessor(weights, "VEC4", ARRAY_BUFFER),
    }
    idx_dtype = np.uint16 if v.shape[0] < 65536 else np.uint32
    indices = b.accessor(body.faces.reshape(-1).astype(idx_dtype), "SCALAR", ELEMENT_ARRAY_BUFFER)
    b.doc["materials"].append({"name": f"person_{name}", "pbrMetallicRoughness": {
        "baseColorFactor": [*PERSON_COLOURS[index % 2], 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.8}})
    b.doc["meshes"].append({"name": f"body_{name}", "primitives": [
        {"attributes": attrs, "indices": indices, "material": len(b.doc["materials"]) - 1}]})
    mesh_node = b.node(name=f"body_{name}", mesh=len(b.doc["meshes"]) - 1, skin=skin)
    # glTF ignores the transform of a skinned mesh's node, and validators want it at the root.
    b.doc["scenes"][0]["nodes"].extend([first, mesh_node])

    times = b.accessor((np.arange(T, dtype=np.float32) / np.float32(fps)).reshape(T), "SCALAR", minmax=True)
    channels, samplers = [], []
    for j in range(NUM_SMPL_JOINTS):
        for path, data, kind in (("rotation", _xyzw(local_r[:, j]), "VEC4"),
                                 ("translation", local_t[:, j].astype(np.float32), "VEC3")):
            samplers.append({"input": times, "output": b.accessor(data, kind), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": first + j, "path": path}})
    b.doc["animations"].append({"name": f"motion_{name}", "channels": channels, "samplers": samplers})


def write_glb(interaction, path: str | os.PathLike, body: str = "mannequin",
              body_models: str | os.PathLike | None = None, detail: str = "medium", smooth: float = 1.0) -> Path:
    """Write the animated GLB of ``interaction`` to ``path`` and return the path (written atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".glb":
        raise InterMaskError(f"The animated export is a binary glTF; give a path ending in .glb (got {path.name}).")
    model = load_body(body, body_models, detail=detail)
    b = _Builder()
    for p in range(2):
        fitted = fit_body(model, interaction.joints[p], interaction.rot6d[p], smooth=smooth)
        _add_person(b, fitted, p, float(interaction.fps))
    # Merge the two animations into one clip so that players start both people together.
    anims = b.doc["animations"]
    merged = {"name": "interaction", "channels": [], "samplers": []}
    for a in anims:
        off = len(merged["samplers"])
        merged["samplers"].extend(a["samplers"])
        merged["channels"].extend({"sampler": c["sampler"] + off, "target": c["target"]} for c in a["channels"])
    b.doc["animations"] = [merged]
    if interaction.text:
        b.doc["asset"]["extras"] = {"text": interaction.text}
    data = b.to_bytes()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
