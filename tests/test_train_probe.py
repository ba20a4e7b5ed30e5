"""The training probe: a small untrained model generates validation clips and the evaluation's code scores them."""
from __future__ import annotations

import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import write_interhuman_tree, write_tiny_checkpoint  # noqa: E402
from intermask.checkpoint import load_transformer, load_vq  # noqa: E402
from intermask.text.base import ToyTextEncoder  # noqa: E402
from train.probe import SCORED, Probe  # noqa: E402

EVALUATOR = REPO / "checkpoints" / "intersynth" / "evaluator"


def test_probe_scores_generated_validation_clips_and_leaves_the_model_training(tmp_path):
    write_interhuman_tree(tmp_path / "data", n_clips=24, frames=(40, 90), seed=2)
    write_tiny_checkpoint(tmp_path / "ckpt")
    vq, _, norm = load_vq(tmp_path / "ckpt" / "vq")
    transformer = load_transformer(tmp_path / "ckpt" / "transformer")[0].train()
    probe = Probe(str(tmp_path / "data"), EVALUATOR, clips=8, split="train")
    first = probe(transformer, vq, norm, ToyTextEncoder())
    assert transformer.training
    for name in ("R_precision_top3", "FID", "foot_skate_mps", "bone_length_drift"):
        assert math.isfinite(first[f"probe_{name}"])
    assert 0.0 <= first["probe_R_precision_top3"] <= 1.0
    # The fixture's texts name "the first person": the order test runs too (a model without person words and with
    # a zero person embedding cannot tell the two readings apart, so its gain is exactly zero).
    assert probe.order_clips and first["probe_order_gain"] == 0.0 and first["probe_order_wins"] == 0.0
    scored = [first[f"probe_{k}"] for k in SCORED if f"probe_{k}" in first]
    assert first["probe_score"] == sum(scored) / len(SCORED)
    # The probe set and the sampling seeds are fixed: the same weights get the same score.
    ticks = []
    again = probe(transformer, vq, norm, ToyTextEncoder(), progress=lambda _desc, done, total: ticks.append((done, total)))
    assert again == {**first, "probe_seconds": probe.last_seconds}
    assert ticks[-1] == (8, 8)  # a progress callback counts the generated clips


def test_learning_curve_adds_up_resumed_segments(tmp_path):
    import json

    from train.probe import curve_markdown, learning_curve

    records = [{"step": 10, "wall": 60.0, "loss": 3.0}, {"step": 20, "wall": 120.0},
               {"step": 20, "probe_score": 0.4, "probe_side": 0.5},
               {"step": 30, "wall": 30.0},  # resumed: the wall clock started again
               {"step": 40, "wall": 90.0}, {"step": 40, "val_loss": 3.0, "probe_score": 0.4, "probe_side": 0.5},
               {"step": 40, "probe_score": 0.6, "probe_side": 0.75}]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    curve = learning_curve(log)
    assert [(c["step"], c["minutes"], c["probe_side"]) for c in curve] == [(20, 2.0, 0.5), (40, 3.5, 0.75)]
    table = curve_markdown(curve)
    assert "| 40 | 4 min |" in table and "0.750" in table


def test_probe_command_sweeps_every_combination_of_sampling_settings(tmp_path):
    import json

    from train.probe import main

    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=5)
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "probe.json"
    assert main(["--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--clips", "8", "--split",
                 "train", "--cond-scale", "0", "4", "--temperature", "1", "0", "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [(r["cond_scale"], r["temperature"]) for r in records] == [(0.0, 1.0), (0.0, 0.0), (4.0, 1.0), (4.0, 0.0)]
    assert all(r["topk_ratio"] == 0.9 and r["time_steps"] == 20 for r in records)  # the defaults where not swept
    assert all(0.0 <= r["probe_score"] <= 1.0 and r["probe_clips"] == 8 for r in records)
    # Each combination reaches the sampler: greedy (temperature 0) and sampled decoding score differently.
    assert records[0]["probe_FID"] != records[1]["probe_FID"]
    # An out-of-range knob is refused with the accepted range, not clamped.
    assert main(["--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--topk-ratio", "1.5"]) == 2
    assert main(["--checkpoint", str(tmp_path / "missing"), "--data-root", str(tmp_path / "data")]) == 2


def test_probe_command_with_several_seeds_scores_each_and_summarises_the_spread(tmp_path, capsys):
    import json

    from train.probe import main

    write_interhuman_tree(tmp_path / "data", n_clips=16, frames=(40, 70), seed=5)
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "probe.json"
    assert main(["--checkpoint", str(ckpt), "--data-root", str(tmp_path / "data"), "--clips", "6", "--split",
                 "train", "--seed", "0", "1", "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [r["seed"] for r in records] == [0, 1]
    # Another seed is another draw of clips and samples, so the scores differ.
    assert records[0]["probe_FID"] != records[1]["probe_FID"]
    shown = capsys.readouterr()
    summary = json.loads(shown.out.strip().splitlines()[-1])
    assert "transformer seed 1" in shown.err  # the progress bar names the checkpoint and the seed it is on
    scores = [r["probe_score"] for r in records]
    assert summary["seeds"] == 2 and summary["checkpoint"] == str(ckpt)
    assert math.isclose(summary["score_mean"], sum(scores) / 2, abs_tol=1e-4)
    assert summary["score_min"] == round(min(scores), 4) and summary["score_max"] == round(max(scores), 4)


def test_every_training_script_runs_from_any_directory(tmp_path):
    # `python train/X.py` puts train/, not the repository, on the path: each script must add the root itself
    # before it imports the package (probe.py once imported it too early and failed with ModuleNotFoundError).
    import os
    import subprocess

    train_dir = Path(__file__).resolve().parents[1] / "train"
    scripts = sorted(p for p in train_dir.glob("*.py") if '__name__ == "__main__"' in p.read_text())
    assert {"probe.py", "train_transformer.py", "bundle.py"} <= {p.name for p in scripts}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for script in scripts:
        done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and "usage" in done.stdout, (script.name, done.stderr[-500:])
