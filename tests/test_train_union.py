"""train/union.py: more training clips from a second data set, validated and tested on the first one's clips."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures import write_interhuman_tree  # noqa: E402
from intermask.data.interhuman import InterHumanDataset, load_clip, split_ids  # noqa: E402
from train.union import main, union  # noqa: E402


def test_the_union_trains_on_both_and_evaluates_on_the_first(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    ids = write_interhuman_tree(first, n_clips=6, seed=0, labels=True, ignore=("2",))
    write_interhuman_tree(second, n_clips=6, seed=1)  # no labels: they are optional
    out = tmp_path / "union"
    counts = union([first, second], out)

    assert split_ids(out, "train") == split_ids(first, "train") + [f"u2_{i}" for i in split_ids(second, "train")]
    assert "2" not in split_ids(out, "train")  # the first root's ignore list held
    for split in ("val", "test"):
        assert split_ids(out, split) == split_ids(first, split)
    assert counts == {s: len(split_ids(out, s)) for s in ("train", "val", "test")}

    # The clips are the roots' own, under the same id (first root) or a prefixed one.
    same = load_clip(out, ids[0])
    np.testing.assert_array_equal(same.f1, load_clip(first, ids[0]).f1)
    other = load_clip(out, "u2_1")
    np.testing.assert_array_equal(other.f2, load_clip(second, "1").f2)
    assert other.texts == load_clip(second, "1").texts
    assert (out / "labels" / f"{ids[0]}.json").is_symlink()
    assert len(InterHumanDataset(out, "train", cache=False)) == 2 * counts["train"]  # mirrored


def test_a_union_refuses_a_used_folder_and_a_single_root(tmp_path, capsys):
    first = tmp_path / "a"
    write_interhuman_tree(first, n_clips=4)
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("")
    assert main([str(first), str(first), "--out", str(used)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([str(first), "--out", str(tmp_path / "new")]) == 2
    with pytest.raises(Exception, match="at least two"):
        union([first], tmp_path / "new2")
