"""bench/refine_smoothing.py: one generation, refined with several smoothing ladders."""
import json

from fixtures import load_bench, write_interhuman_tree, write_tiny_checkpoint
from intermask.motion.refine import FUSED_SMOOTHING


def test_refine_smoothing_bench_refines_the_same_generation_with_each_ladder(tmp_path):
    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=5)
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt", velocity_fusion=0.5)
    out = tmp_path / "smoothing.json"
    result = load_bench("refine_smoothing").main([
        "--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--split", "train",
        "--clips", "8", "--ladders", "0.5", "3", "--out", str(out)])
    assert json.loads(out.read_text())["rows"].keys() == {"ground_truth", "raw", "0.5", "3"}
    assert result["shipped_ladder"] == list(FUSED_SMOOTHING) and result["clips"] == 8  # fused decoding's ladder
    rows = result["rows"]
    # Refinement fixes the skeleton whatever the smoothing, and the smoothing changes the motion (the tiny
    # model's output is noise, so which ladder leaves less jerk is not a property of it).
    assert rows["raw"]["physics"]["bone_length_drift"] > 10 * rows["0.5"]["physics"]["bone_length_drift"]
    assert rows["3"]["physics"]["acceleration_mps2"] != rows["0.5"]["physics"]["acceleration_mps2"]
    assert set(rows["raw"]["control"]) <= set(rows["ground_truth"]["control"])
