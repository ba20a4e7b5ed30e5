"""bench/refine_smoothing.py: one generation, refined with several smoothing ladders."""
import importlib.util
import json
import sys
from pathlib import Path

from fixtures import write_interhuman_tree, write_tiny_checkpoint

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench():
    sys.path.insert(0, str(BENCH))  # the bench imports its sibling result_file
    spec = importlib.util.spec_from_file_location("refine_smoothing", BENCH / "refine_smoothing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refine_smoothing_bench_refines_the_same_generation_with_each_ladder(tmp_path):
    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=5)
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt", velocity_fusion=0.5)
    out = tmp_path / "smoothing.json"
    result = _bench().main(["--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--split", "train",
                            "--clips", "8", "--ladders", "0.5", "3", "--out", str(out)])
    assert json.loads(out.read_text())["rows"].keys() == {"ground_truth", "raw", "0.5", "3"}
    assert result["shipped_ladder"] == [0.5, 0.75, 1.0] and result["clips"] == 8  # fused decoding's ladder
    rows = result["rows"]
    # Refinement fixes the skeleton whatever the smoothing, and the smoothing changes the motion (the tiny
    # model's output is noise, so which ladder leaves less jerk is not a property of it).
    assert rows["raw"]["physics"]["bone_length_drift"] > 10 * rows["0.5"]["physics"]["bone_length_drift"]
    assert rows["3"]["physics"]["acceleration_mps2"] != rows["0.5"]["physics"]["acceleration_mps2"]
    assert set(rows["raw"]["control"]) <= set(rows["ground_truth"]["control"])
