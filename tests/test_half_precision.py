"""bench/half_precision.py: how much of a VQ's coding survives float16 storage (train/bundle.py --half)."""
import importlib.util
import json
import sys
from pathlib import Path

from tests.fixtures import write_interhuman_tree, write_tiny_checkpoint

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_a_float16_copy_of_a_vq_keeps_nearly_every_code_and_the_decoded_joints(tmp_path):
    sys.path.insert(0, str(BENCH))  # the script imports its sibling result_file
    spec = importlib.util.spec_from_file_location("half_precision", BENCH / "half_precision.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=1)
    vq = write_tiny_checkpoint(tmp_path / "ckpt").parent / "vq"
    out = tmp_path / "half.json"
    assert bench.main(["--vq", str(vq), "--data-root", str(tmp_path / "data"), "--clips", "4", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["clips"] >= 1 and result["token_positions"] > 0
    assert 0.95 <= result["codes_equal_share"] <= 1.0
    assert result["decoded_joint_max_diff_m"] < 0.01
    assert result["command"].startswith("python ")
