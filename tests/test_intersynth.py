"""InterSynth: the procedural two-person data set (layout, determinism, labels agree with the motion)."""
import json

import numpy as np
import pytest

from intermask import skeleton as sk
from intermask.data.intersynth.categories import CATEGORIES
from intermask.data.intersynth.compose import generate_clip
from intermask.data.intersynth.labels import mirror_label
from intermask.data.intersynth.writer import write_dataset
from intermask.errors import InterMaskError
from intermask.metrics import physics
from intermask.motion.features import split_raw, Z_TO_Y
from intermask.motion.mirror import mirror_text


@pytest.fixture(scope="module")
def all_categories():
    """One clip per category (21 clips, ~0.5 s in all)."""
    return {c: generate_clip(100 + i, category=c) for i, c in enumerate(CATEGORIES)}


def test_there_are_at_least_twenty_parameterised_categories(all_categories):
    assert len(CATEGORIES) >= 20
    for cat, clip in all_categories.items():
        lab = clip.label
        assert lab["category"] == cat
        assert lab["actor"] in (0, 1, "both")
        assert lab["side"] in ("left", "right", None)
        assert lab["limb"] in ("hand", "arm", "leg", "foot", None)
        assert lab["count"] is None or isinstance(lab["count"], int)
        assert lab["segments"] and all(s["start_frame"] < s["end_frame"] <= lab["frames"] for s in lab["segments"])
        assert 60 <= clip.joints.shape[1] <= 300  # 2–10 s at 30 fps
        assert clip.joints.shape == (2, lab["frames"], 22, 3) and clip.rot6d.shape == (2, lab["frames"], 21, 6)
        assert len(set(clip.texts)) == 3


def test_motion_is_physically_clean(all_categories):
    for cat, clip in all_categories.items():
        s = physics.summary(clip.joints)
        assert s["bone_length_drift"] < 1e-5, cat
        assert s["ground_penetration_m"] < 1e-3, cat
        assert s["foot_skate_mps"] < 0.08, (cat, s["foot_skate_mps"])
        if cat != "hug":  # hugging bodies touch; everything else keeps its distance
            assert s["interpenetration_m"] < 0.02, (cat, s["interpenetration_m"])
        # Knees and elbows within their limits: no hyperextension, flexion below 145°.
        for p in range(2):
            j = clip.joints[p]
            for a, b, c in ((1, 4, 7), (2, 5, 8), (16, 18, 20), (17, 19, 21)):
                u, v = j[:, a] - j[:, b], j[:, c] - j[:, b]
                cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
                flex = 180 - np.degrees(np.arccos(np.clip(cos, -1, 1)))
                assert flex.max() < 146, (cat, a)


def test_rotations_reproduce_the_positions():
    """Positions are FK of the stored local rotations (root from the hips), so both halves of a file agree."""
    clip = generate_clip(5, category="wave")
    j, r = clip.joints[0], clip.rot6d[0]
    local = np.concatenate([sk.root_orientation_from_joints(j)[:, None], sk.rot6d_to_matrix(r)], axis=1)
    scale = np.linalg.norm(j[0, 4] - j[0, 1]) / np.linalg.norm(sk.REST_OFFSETS[4])
    fk, _ = sk.forward_kinematics(local, j[:, 0], sk.REST_OFFSETS * scale)
    assert np.abs(fk - j).max() < 0.05  # segment jitter ±3% → a few cm at most


def test_handshake_hands_meet_and_kick_lifts_the_named_leg():
    shake = generate_clip(1, category="handshake")
    side = shake.label["side"]
    other = "left" if side == "right" else "right"
    w = {"left": 20, "right": 21}
    j = shake.joints
    assert np.linalg.norm(j[0, :, w[side]] - j[1, :, w[side]], axis=-1).min() < 0.10
    assert np.linalg.norm(j[0, :, w[other]] - j[1, :, w[other]], axis=-1).min() > 0.3
    for seed in range(2, 6):
        kick = generate_clip(seed, category="kick")
        a = kick.label["actor"]
        ank = {"left": 7, "right": 8}
        kicked = kick.joints[a, :, ank[kick.label["side"]], 1].max()
        stood = kick.joints[a, :, ank["left" if kick.label["side"] == "right" else "right"], 1].max()
        assert kicked > 0.3 and stood < 0.15


def test_texts_name_sides_counts_and_mirror_consistently(all_categories):
    for clip in all_categories.values():
        lab = clip.label
        for t in clip.texts:
            if lab["side"] and lab["category"] != "pass_by":
                assert lab["side"] in t.split() or lab["side"] in t.replace(",", " ").split(), t
            if lab["count"] == 2 and lab["category"] != "bow":
                assert "twice" in t
        mirrored = mirror_label(lab)
        if lab["side"]:
            assert mirrored["side"] != lab["side"]
            assert all(mirrored["side"] in mirror_text(t) for t in clip.texts)
        assert mirror_label(mirrored) == lab
        assert {k: v for k, v in mirrored.items() if k not in ("side", "target_side", "receiver_side", "direction")} \
            == {k: v for k, v in lab.items() if k not in ("side", "target_side", "receiver_side", "direction")}


def test_composite_clips_go_solo_interaction_solo():
    clip = generate_clip(11, category="handshake", composite=True)
    cats = [s["category"] for s in clip.label["segments"]]
    assert cats[0] == "approach" and cats[1] == "handshake"
    assert clip.label["composite"] is True
    assert "hand" in clip.texts[0] and ("walk" in clip.texts[0] or "approach" in clip.texts[0])
    with pytest.raises(InterMaskError):
        generate_clip(1, category="teleport")


def test_written_set_is_deterministic_and_loads_as_interhuman(tmp_path):
    from intermask.data.interhuman import InterHumanDataset, load_clip

    a, b = tmp_path / "a", tmp_path / "b"
    write_dataset(a, num=6, seed=4, workers=1, progress=False)
    write_dataset(b, num=6, seed=4, workers=1, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 6 * 4 + 3 + 1
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    ids = [f"{i:06d}" for i in range(6)]
    splits = {s: (a / "split" / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    assert sorted(sum(splits.values(), [])) == ids
    raw = np.load(a / "motions_processed" / "person1" / "000000.npy")
    assert raw.dtype == np.float32 and raw.shape[1] == 492
    pos, _ = split_raw(raw)
    assert (pos @ Z_TO_Y.T)[..., 1].min() > -1e-4  # Z-up on disk, floor at 0
    clip = load_clip(a, "000000")
    assert clip.f1.shape[1] == 262 and len(clip.texts) == 3
    assert clip.label == json.loads((a / "labels" / "000000.json").read_text())
    ds = InterHumanDataset(a, "train", mirror=True)
    assert len(ds) == 2 * len(splits["train"])
    item = ds[len(ds) - 1]
    assert item["motion"].shape[-1] == 262
