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
    scored = [first[f"probe_{k}"] for k in SCORED if f"probe_{k}" in first]
    assert first["probe_score"] == sum(scored) / len(SCORED)
    # The probe set and the sampling seeds are fixed: the same weights get the same score.
    assert probe(transformer, vq, norm, ToyTextEncoder()) == {**first, "probe_seconds": probe.last_seconds}
