"""The InterHuman reader: files, split handling, items, VQ windows and statistics."""
import json

import numpy as np
import pytest

from intermask.data.interhuman import (InterHumanDataset, InterHumanWindows, collate, compute_stats,
                                       mirror_features, reframe, split_ids)
from intermask.errors import InterMaskError
from intermask.motion import features as ft
from intermask.motion.mirror import mirror_raw, mirror_text

from fixtures import write_interhuman_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("InterHuman")
    ids = write_interhuman_tree(root, n_clips=8, frames=(40, 90), seed=3, labels=True, ignore=("4",),
                                short_clips={"3": 10},
                                splits={"train": ["1", "2", "3", "4", "5"], "val": ["6"], "test": ["7", "8"]})
    return root, ids


def raw(root, cid):
    return [np.load(root / "motions_processed" / f"person{k}" / f"{cid}.npy") for k in (1, 2)]


def matches_pair(item_motion, length, r1, r2):
    """True when the two output slots are pair_features of (r1, r2) in either reference order."""
    got = item_motion[:, :length]
    for a, b, slots in ((r1, r2, (0, 1)), (r2, r1, (1, 0))):
        fa, fb = ft.pair_features(a, b)
        want = np.zeros_like(got)
        want[slots[0]], want[slots[1]] = fa[:length], fb[:length]
        if np.abs(got - want).max() < 1e-4:
            return True
    return False


# ------------------------------------------------------------------------------------------------------
# Files and splits
# ------------------------------------------------------------------------------------------------------

def test_split_ids_apply_the_ignore_list_and_need_both_persons(tree, tmp_path):
    root, _ = tree
    assert split_ids(root, "train") == ["1", "2", "3", "5"]  # 4 is ignored
    assert split_ids(root, "test") == ["7", "8"]
    # The VQ dataset's ignore list lives in split/; both places are honoured, a missing file is fine.
    other = tmp_path / "other"
    write_interhuman_tree(other, n_clips=3, ignore=("1",), ignore_in_split_dir=True,
                          splits={"train": ["1", "2", "3"]})
    (other / "motions_processed" / "person2" / "3.npy").unlink()
    assert split_ids(other, "train") == ["2"]


def test_missing_root_and_split_files_name_the_expected_path(tmp_path):
    with pytest.raises(InterMaskError, match="motions_processed"):
        split_ids(tmp_path / "nowhere", "train")
    write_interhuman_tree(tmp_path / "t", n_clips=3)
    (tmp_path / "t" / "split" / "val.txt").unlink()
    with pytest.raises(InterMaskError, match=r"split[/\\]val.txt is missing"):
        InterHumanDataset(tmp_path / "t", "val")
    with pytest.raises(InterMaskError, match="Unknown split 'dev'"):
        split_ids(tmp_path / "t", "dev")


# ------------------------------------------------------------------------------------------------------
# Transformer items
# ------------------------------------------------------------------------------------------------------

def test_train_items_follow_the_spec(tree):
    root, _ = tree
    ds = InterHumanDataset(root, "train", max_frames=300)
    assert ds.ids == ["1", "2", "5"]  # clip 3 (10 frames) is shorter than min_frames = 15
    assert len(ds) == 6 and ds.name(0) == "1" and ds.name(3) == "1_mirror"
    for index in range(len(ds)):
        item = ds[index]
        cid = ds.ids[index % 3]
        r1, r2 = raw(root, cid)
        if index >= 3:
            r1, r2 = mirror_raw(r1), mirror_raw(r2)
        assert item["motion"].shape == (2, 300, 262) and item["motion"].dtype == np.float32
        assert item["length"] == len(r1) - 1
        assert not item["motion"][:, item["length"]:].any()  # zero padding
        assert item["text"] in ds.descriptions(index)
        assert matches_pair(item["motion"], item["length"], *[(r1, r2)[p] for p in item["persons"]])


def test_mirrored_entries_mirror_text_and_label(tree):
    root, _ = tree
    ds = InterHumanDataset(root, "train")
    label = json.loads((root / "labels" / "1.json").read_text())
    assert ds.label(0) == label
    swapped = {"left": "right", "right": "left"}[label["side"]]
    assert ds.label(3)["side"] == swapped and ds.label(3)["category"] == label["category"]
    assert ds.descriptions(3) == [mirror_text(t) for t in ds.descriptions(0)]
    assert ds[3]["label"]["side"] == swapped


def test_items_depend_only_on_seed_epoch_and_index(tree):
    root, _ = tree
    a = InterHumanDataset(root, "train", seed=5)
    b = InterHumanDataset(root, "train", seed=5, cache=False)  # another "process", reading lazily
    for index in (4, 0, 2):  # any order
        x, y = a[index], b[index]
        assert x["text"] == y["text"] and np.array_equal(x["persons"], y["persons"])
        assert np.allclose(x["motion"], y["motion"], atol=1e-6)
    draws = set()
    for epoch in range(6):
        a.set_epoch(epoch)
        draws.add((a[1]["text"], tuple(a[1]["persons"])))
    assert len(draws) > 1  # a new epoch gives new draws


def test_crops_are_recanonicalised_like_the_raw_crop(tree):
    root, _ = tree
    ds = InterHumanDataset(root, "val", max_frames=30, mirror=False)
    r1, r2 = raw(root, "6")
    assert len(r1) > 30
    item = ds[0]
    assert item["length"] == 29 and item["motion"].shape == (2, 30, 262)
    rs = [(r1, r2)[p] for p in item["persons"]]
    assert any(matches_pair(item["motion"], 29, rs[0][s:s + 30], rs[1][s:s + 30]) for s in range(len(r1) - 30))


def test_train_frames_windows(tree):
    root, _ = tree
    ds = InterHumanDataset(root, "train", train_frames=16)
    item = ds[1]
    assert item["motion"].shape == (2, 16, 262) and item["length"] == 16


def test_reframe_and_mirror_features_equal_recomputing_from_raw(tree):
    root, _ = tree
    r1, r2 = raw(root, "5")
    f1, f2 = ft.pair_features(r1, r2)
    for got, want in ((reframe(f2, f1), ft.pair_features(r2, r1)),
                      (reframe(f1, f2, 7, 20), ft.pair_features(r1[7:27], r2[7:27])),
                      ((mirror_features(f1), mirror_features(f2)), ft.pair_features(mirror_raw(r1), mirror_raw(r2)))):
        assert np.abs(got[0] - want[0]).max() < 1e-5 and np.abs(got[1] - want[1]).max() < 1e-5


def test_collate_for_a_dataloader(tree):
    import torch

    root, _ = tree
    ds = InterHumanDataset(root, "train", max_frames=100)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate)))
    assert batch["motion"].shape == (4, 2, 100, 262) and batch["motion"].dtype == torch.float32
    assert batch["length"].tolist() == [ds[i]["length"] for i in range(4)]
    assert len(batch["text"]) == 4 and batch["persons"].shape == (4, 2)


# ------------------------------------------------------------------------------------------------------
# VQ windows and statistics
# ------------------------------------------------------------------------------------------------------

def test_windows_and_statistics(tree):
    root, _ = tree
    stats = compute_stats(root, "train")
    assert abs(stats.mean[0]) < 1e-5  # mirrored copies centre the root x
    assert 0.5 < stats.mean[1] < 1.2  # pelvis height
    assert (stats.std > 0).all()
    windows = InterHumanWindows(root, "train", normalizer=stats, window=32, stride=10)
    expected = 0
    for cid in ("1", "2", "5"):  # clip 3 is too short for a window; 4 is ignored
        n = len(raw(root, cid)[0]) - 1
        expected += 4 * len(range(0, n - 32 + 1, 10))  # p1, p1 mirrored, p2, p2 mirrored
    assert len(windows) == expected
    # each window knows its clip: clip 1's windows come first, then clip 2's, then clip 5's
    clips = [windows.clip_id(i) for i in range(len(windows))]
    assert clips == sorted(clips, key=int) and set(clips) == {"1", "2", "5"}
    assert clips.count("1") == 4 * len(range(0, len(raw(root, "1")[0]) - 1 - 32 + 1, 10))
    w = windows[0]
    assert w.shape == (32, 262) and w.dtype == np.float32
    f1, _ = ft.pair_features(*raw(root, "1"))
    assert np.allclose(stats.denormalize(w), f1[:32], atol=1e-4)
    normalised = InterHumanDataset(root, "train", normalizer=stats)[0]
    n = normalised["length"]
    assert abs(normalised["motion"][:, :n].mean()) < 1.0 and not normalised["motion"][:, n:].any()


def test_touch_windows_carry_each_wrists_nearness_to_the_other_person(tree):
    from intermask.motion.touch import touch_weights

    root, _ = tree
    plain = InterHumanWindows(root, "train", window=32, stride=10)
    windows = InterHumanWindows(root, "train", window=32, stride=10, touch=True)
    assert len(windows) == len(plain)
    w, weights = windows[0]
    np.testing.assert_array_equal(w, plain[0])  # the same windows, with weights beside them
    assert weights.shape == (32, 2) and weights.dtype == np.float32
    f1, f2 = ft.pair_features(*raw(root, "1"))
    j1, j2 = ft.features_to_joints(f1), ft.features_to_joints(f2)
    np.testing.assert_allclose(weights, touch_weights(j1, j2)[:32], atol=1e-6)
    # Sequences are p1, p1 mirrored, p2, p2 mirrored: mirroring both persons keeps every distance and swaps the
    # wrists, and p2's weights are measured against p1.
    first = len(range(0, len(f1) - 32 + 1, 10))
    _, mirrored = windows[first]
    np.testing.assert_allclose(mirrored, weights[:, ::-1], atol=1e-5)
    _, second = windows[2 * first]
    np.testing.assert_allclose(second, touch_weights(j2, j1)[:32], atol=1e-6)
