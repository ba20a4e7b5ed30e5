"""Animated GLB: valid glTF binary, two skinned bodies, per-joint animation that reproduces the motion."""
import json
import struct

import numpy as np
import pytest

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.render.glb import write_glb
from intermask.render.sample import sample_interaction

COMPONENTS = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}
WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(path):
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    doc = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert (jtype, btype) == (b"JSON", b"BIN\x00")
    blob = data[28 + jlen:28 + jlen + blen]

    def accessor(i):
        acc = doc["accessors"][i]
        view = doc["bufferViews"][acc["bufferView"]]
        n = acc["count"] * WIDTH[acc["type"]]
        arr = np.frombuffer(blob, COMPONENTS[acc["componentType"]], n, view["byteOffset"])
        return arr.reshape(acc["count"], -1)
    return doc, accessor


def quat_xyzw_to_matrix(q):
    return sk.quaternion_to_matrix(np.concatenate([q[..., 3:], q[..., :3]], -1))


@pytest.fixture(scope="module")
def glb(tmp_path_factory):
    clip = sample_interaction(frames=24, seed=2)
    path = write_glb(clip, tmp_path_factory.mktemp("glb") / "clip.glb", detail="low")
    return clip, path


def test_glb_structure_joints_and_animation_length(glb):
    clip, path = glb
    doc, accessor = read_glb(path)
    assert len(doc["skins"]) == 2 and len(doc["meshes"]) == 2
    for skin in doc["skins"]:
        assert len(skin["joints"]) == 54  # mannequin skeleton: 22 body joints + hands and fingers
        assert accessor(skin["inverseBindMatrices"]).shape == (54, 16)
    [anim] = doc["animations"]
    times = doc["accessors"][anim["samplers"][0]["input"]]
    assert times["count"] == clip.num_frames
    assert times["min"] == [0.0] and times["max"][0] == pytest.approx((clip.num_frames - 1) / 30)
    assert len(anim["channels"]) == 2 * 22 * 2  # two persons, 22 joints, rotation + translation
    prim = doc["meshes"][0]["primitives"][0]
    w = accessor(prim["attributes"]["WEIGHTS_0"])
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-5)
    assert path.stat().st_size < 3_000_000


def test_glb_animation_puts_the_joints_where_the_motion_has_them(glb):
    clip, path = glb
    doc, accessor = read_glb(path)
    anim = doc["animations"][0]
    t = clip.num_frames // 2
    for person, skin in enumerate(doc["skins"]):
        nodes = skin["joints"]
        parent = {c: n for n in nodes for c in doc["nodes"][n].get("children", [])}
        local = {}
        for n in nodes:
            node = doc["nodes"][n]
            local[n] = [quat_xyzw_to_matrix(np.array(node.get("rotation", [0, 0, 0, 1]))),
                        np.array(node.get("translation", [0, 0, 0]), dtype=np.float64)]
        for ch in anim["channels"]:
            n = ch["target"]["node"]
            if n in local:
                value = accessor(anim["samplers"][ch["sampler"]]["output"])[t].astype(np.float64)
                if ch["target"]["path"] == "rotation":
                    local[n][0] = quat_xyzw_to_matrix(value)
                else:
                    local[n][1] = value
        world = {}
        for n in nodes:  # parents come first
            R, p = local[n]
            if n in parent:
                PR, Pp = world[parent[n]]
                world[n] = (PR @ R, Pp + PR @ p)
            else:
                world[n] = (R, p)
        positions = np.array([world[n][1] for n in nodes[:22]])
        assert np.abs(positions - clip.joints[person, t]).max() < 0.02


def test_glb_loads_in_trimesh(glb):
    trimesh = pytest.importorskip("trimesh")
    _, path = glb
    scene = trimesh.load(path)
    assert len(scene.geometry) == 2
    assert all(g.vertices.shape[0] > 1000 for g in scene.geometry.values())


def test_glb_loads_in_pygltflib(glb):
    pygltflib = pytest.importorskip("pygltflib", reason="optional cross-check with a second glTF reader")
    clip, path = glb
    g = pygltflib.GLTF2().load(str(path))
    assert len(g.skins) == 2 and len(g.animations) == 1
    assert g.accessors[g.animations[0].samplers[0].input].count == clip.num_frames


def test_glb_needs_a_glb_suffix(tmp_path):
    with pytest.raises(InterMaskError, match=".glb"):
        write_glb(sample_interaction(frames=2), tmp_path / "x.gltf")
