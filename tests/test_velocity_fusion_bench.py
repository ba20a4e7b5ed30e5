"""bench/velocity_fusion.py: one generation, scored at several fusion weights; weight 0 is the paper's decoding."""
import json

from fixtures import load_bench, write_interhuman_tree, write_tiny_checkpoint


def test_velocity_fusion_bench_scores_the_same_generation_at_each_weight(tmp_path):
    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=5)
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt", velocity_fusion=0.5)
    out = tmp_path / "fusion.json"
    result = load_bench("velocity_fusion").main([
        "--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--split", "train",
        "--clips", "8", "--weights", "0", "4", "--out", str(out)])
    assert json.loads(out.read_text())["rows"].keys() == {"ground_truth", "0", "4"}
    assert result["shipped_weight"] == 0.5 and result["clips"] == 8
    rows = result["rows"]
    # Fitting the decoded positions to the decoded velocities smooths them; the same tokens, decoded differently.
    assert rows["4"]["physics"]["jerk_mps3"] < 0.9 * rows["0"]["physics"]["jerk_mps3"]
    assert rows["4"]["Diversity"] != rows["0"]["Diversity"]
    assert "FID" in rows["0"] and "FID" not in rows["ground_truth"]
    assert set(rows["0"]["control"]) == set(rows["ground_truth"]["control"])
