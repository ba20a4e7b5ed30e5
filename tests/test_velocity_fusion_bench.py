"""bench/velocity_fusion.py: one generation, scored at several fusion weights; weight 0 is the paper's decoding."""
import importlib.util
import json
import sys
from pathlib import Path

from fixtures import write_interhuman_tree, write_tiny_checkpoint

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench():
    sys.path.insert(0, str(BENCH))  # the bench imports its sibling result_file
    spec = importlib.util.spec_from_file_location("velocity_fusion", BENCH / "velocity_fusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_velocity_fusion_bench_scores_the_same_generation_at_each_weight(tmp_path):
    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=5)
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt", velocity_fusion=0.5)
    out = tmp_path / "fusion.json"
    result = _bench().main(["--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--split", "train",
                            "--clips", "8", "--weights", "0", "4", "--out", str(out)])
    assert json.loads(out.read_text())["rows"].keys() == {"ground_truth", "0", "4"}
    assert result["shipped_weight"] == 0.5 and result["clips"] == 8
    rows = result["rows"]
    # Fitting the decoded positions to the decoded velocities smooths them; the same tokens, decoded differently.
    assert rows["4"]["physics"]["jerk_mps3"] < 0.9 * rows["0"]["physics"]["jerk_mps3"]
    assert rows["4"]["Diversity"] != rows["0"]["Diversity"]
    assert "FID" in rows["0"] and "FID" not in rows["ground_truth"]
    assert set(rows["0"]["control"]) == set(rows["ground_truth"]["control"])
