"""The Inter-X reader on a tiny generated .h5 tree."""
import numpy as np
import pytest

pytest.importorskip("h5py", reason="Inter-X support needs h5py")

from intermask import skeleton as sk  # noqa: E402
from intermask.data.interx import (InterXDataset, InterXWindows, collate, load_split,  # noqa: E402
                                   matrix_to_rot6d_rows, person_tensor, read_texts, rot6d_rows_to_matrix,
                                   split_persons)
from intermask.errors import InterMaskError  # noqa: E402

from fixtures import write_interx_tree  # noqa: E402


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("InterX")
    names = write_interx_tree(root, n_seqs=6, frames=(30, 60), seed=1,
                              lengths={"G001T000A000R000": 20, "G001T000A001R000": 170})
    return root, names


def test_rot6d_rows_layout():
    rz = sk.axis_angle_to_matrix(np.array([0.0, 0.0, 0.3]))
    c, s = np.cos(0.3), np.sin(0.3)
    assert np.allclose(matrix_to_rot6d_rows(rz), [c, -s, 0, s, c, 0])  # first two rows
    m = sk.axis_angle_to_matrix(np.random.default_rng(0).normal(size=(10, 3)))
    assert np.allclose(rot6d_rows_to_matrix(matrix_to_rot6d_rows(m)), m, atol=1e-12)


def test_person_tensor_rotations_translation_and_velocity():
    rng = np.random.default_rng(2)
    seq = rng.normal(0, 0.5, size=(5, 56, 6)).astype(np.float32)
    t = person_tensor(seq, 1)
    assert t.shape == (5, 56, 6) and t.dtype == np.float32
    assert np.allclose(rot6d_rows_to_matrix(t[:, 3]), sk.axis_angle_to_matrix(seq[:, 3, 3:]), atol=1e-5)
    assert np.allclose(t[:, 55, :3], seq[:, 55, 3:])
    assert np.allclose(t[:-1, 55, 3:], seq[1:, 55, 3:] - seq[:-1, 55, 3:], atol=1e-6)
    assert not t[-1, 55, 3:].any()  # last frame's velocity is 0


def test_load_split_keeps_24_to_999_frames(tree):
    root, names = tree
    seqs = load_split(root, "train")
    assert names[0] not in seqs  # 20 frames: too short
    assert seqs[names[1]].shape == (170, 56, 6)
    with pytest.raises(InterMaskError, match=r"motions[/\\]dev.h5|Unknown split"):
        load_split(root, "dev")
    with pytest.raises(InterMaskError, match="is missing"):
        load_split(root / "nowhere", "train")


def test_items_crop_to_multiples_of_four_and_pad_to_150(tree):
    root, names = tree
    ds = InterXDataset(root, "train", seed=3)
    assert ds.names == [names[1], names[2]]
    lengths = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        item = ds[0]  # the 170-frame sequence
        assert item["motion"].shape == (150, 56, 12) and item["motion"].dtype == np.float32
        assert item["length"] == 150  # ⌊170/4⌋·4 = 168 or 164, capped at 150
        item = ds[1]
        n = item["length"]
        full = load_split(root, "train")[names[2]].shape[0]
        assert n in ((full // 4) * 4, (full // 4 - 1) * 4)
        lengths.add(n)
        assert not item["motion"][n:].any()
        assert item["text"] in ds.descriptions(1) and item["tokens"][0].endswith("/NOUN")
    assert len(lengths) == 2  # both length choices occur
    # The crop is a real window of the sequence, person 1 first.
    ds.set_epoch(0)
    item = ds[1]
    seq = load_split(root, "train")[names[2]]
    p1 = person_tensor(seq, 0)
    n = item["length"]
    assert any(np.allclose(item["motion"][:n, :55, :6], p1[s:s + n, :55]) for s in range(len(seq) - n + 1))
    both = split_persons(item["motion"])
    assert both.shape == (2, 150, 56, 6) and np.array_equal(both[1], item["motion"][..., 6:])


def test_items_are_reproducible_per_seed_epoch_index(tree):
    root, _ = tree
    a, b = InterXDataset(root, "train", seed=4), InterXDataset(root, "train", seed=4)
    a.set_epoch(2)
    b.set_epoch(2)
    x, y = a[1], b[1]
    assert x["text"] == y["text"] and np.array_equal(x["motion"], y["motion"])
    batch = collate([a[0], a[1]])
    assert tuple(batch["motion"].shape) == (2, 150, 56, 12) and batch["length"].tolist() == [150, x["length"]]


def test_texts_with_sub_segment_tags_are_refused(tmp_path):
    root = tmp_path / "X"
    write_interx_tree(root, n_seqs=3, tags=("0.0", "2.5"))
    path = next((root / "texts_processed").iterdir())
    with pytest.raises(InterMaskError, match="sub-segment"):
        read_texts(path)
    (root / "texts_processed" / "ok.txt").write_text("a hug#a/DET hug/NOUN#nan#nan\n")
    assert read_texts(root / "texts_processed" / "ok.txt") == [("a hug", ["a/DET", "hug/NOUN"])]


def test_vq_windows_use_both_persons(tree):
    root, names = tree
    windows = InterXWindows(root, "train", window=64, stride=10)
    # Only the 170-frame sequence is long enough: 2 persons × starts 0, 10, ..., 100.
    assert len(windows) == 2 * 11
    assert windows[0].shape == (64, 56, 6)
    seq = load_split(root, "train")[names[1]]
    assert np.allclose(windows[11], person_tensor(seq, 1)[:64])
