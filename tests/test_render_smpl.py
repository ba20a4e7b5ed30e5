"""The SMPL-X body path, exercised with a small random model file in the official SMPLX_NEUTRAL.npz layout."""
import numpy as np
import pytest

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.render import render_frames
from intermask.render.body import load_body
from intermask.render.posing import fit_body
from intermask.render.sample import sample_interaction

NUM_JOINTS = 55  # SMPL-X: 22 body, jaw, two eyes, 2 x 15 finger joints


def smplx_parents() -> np.ndarray:
    parents = list(sk.PARENTS) + [15, 15, 15]
    for wrist in (20, 21):
        for _ in range(5):
            start = len(parents)
            parents += [wrist, start, start + 1]
    return np.array(parents)


def write_random_smplx(directory, seed: int = 0):
    """A tiny SMPL-X file: a jittered tetrahedron around each joint of the SMPL rest skeleton."""
    rng = np.random.default_rng(seed)
    parents = smplx_parents()
    joints = np.zeros((NUM_JOINTS, 3))
    joints[:22] = sk.rest_joints() + np.array([0.0, 0.0, 0.0])
    for j in range(22, NUM_JOINTS):
        joints[j] = joints[parents[j]] + rng.normal(0, 0.02, 3)
    tet = np.array([[0.03, 0, 0], [-0.03, 0, 0.02], [0, 0.03, -0.02], [0, -0.03, -0.02]])
    v = (joints[:, None] + tet[None] * rng.uniform(0.8, 1.2, (NUM_JOINTS, 1, 1))).reshape(-1, 3)
    V = v.shape[0]
    faces = (np.arange(NUM_JOINTS)[:, None, None] * 4 + np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]))
    weights = np.zeros((V, NUM_JOINTS))
    weights[np.arange(V), np.arange(V) // 4] = 1.0
    regressor = weights.T / 4.0
    kintree = np.stack([parents, np.arange(NUM_JOINTS)]).astype(np.int64)
    kintree[0, 0] = 2 ** 32 - 1  # the official files store the root's parent as uint32 -1
    path = directory / "smplx" / "SMPLX_NEUTRAL.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, v_template=v, f=faces.reshape(-1, 3).astype(np.int64), J_regressor=regressor,
             weights=weights, kintree_table=kintree, shapedirs=rng.normal(0, 1e-3, (V, 3, 20)),
             posedirs=rng.normal(0, 1e-3, (V, 3, (NUM_JOINTS - 1) * 9)),
             hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
             hands_meanl=rng.normal(0, 0.1, 45), hands_meanr=rng.normal(0, 0.1, 45),
             lmk_faces_idx=np.zeros(51, np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3))
    return path


def test_smplx_body_renders_and_follows_the_joints(tmp_path):
    pytest.importorskip("smplx", reason="the SMPL path needs the optional smplx package (intermask[smpl])")
    write_random_smplx(tmp_path)
    body = load_body("smplx", tmp_path, detail="full")
    assert body.num_joints == NUM_JOINTS and body.num_vertices == NUM_JOINTS * 4
    clip = sample_interaction(frames=3, seed=1)
    fitted = fit_body(body, clip.joints[0], clip.rot6d[0])
    assert np.abs(fitted.positions[:, :22] - clip.joints[0]).max() < 0.02
    frame = next(iter(render_frames(clip, "mesh", size=96, body="smplx", body_models=tmp_path)))
    assert frame.shape == (96, 96, 3)
    assert ((frame.max(-1).astype(int) - frame.min(-1)) > 60).mean() > 0.002  # coloured bodies drawn


def test_missing_model_files_name_the_directory_and_files(tmp_path, monkeypatch):
    monkeypatch.delenv("INTERMASK_BODY_MODELS", raising=False)
    with pytest.raises(InterMaskError, match="SMPLX_NEUTRAL.npz") as err:
        load_body("smplx", tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(InterMaskError, match="--body-models"):
        load_body("smpl")
