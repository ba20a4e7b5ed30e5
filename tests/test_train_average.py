"""The weight average of a training run (--ema-decay): what it holds, when the model carries it, how it resumes.

The training scripts' use of it (N processes = 1, resume = uninterrupted, with the average on) is in
tests/test_distributed.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.average import RAW, WeightAverage  # noqa: E402


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    model[1].weight.requires_grad_(False)  # frozen parameters are not averaged
    return model


def test_the_average_follows_the_weights_by_the_scheduled_rate():
    model = _model()
    average = WeightAverage(model, decay=0.9)
    start = model[0].weight.detach().clone()
    expected = start.clone()
    for step in range(1, 6):
        with torch.no_grad():
            model[0].weight.add_(1.0)
        average.update(step)
        d = min(0.9, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * model[0].weight.detach()
    torch.testing.assert_close(average.shadow["0.weight"], expected)
    # early steps move the average further than the decay alone would
    assert average.rate(1) == pytest.approx(2 / 11) and average.rate(1000) == 0.9
    assert "1.weight" not in average.shadow


def test_a_constant_weight_stays_exactly_constant():
    model = _model()
    average = WeightAverage(model, decay=0.997)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for step in range(1, 50):
        average.update(step)
    assert all(torch.equal(average.shadow[n], before[n]) for n in average.shadow)


def test_the_model_holds_the_average_only_inside_applied():
    model = _model()
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model[0].bias.fill_(2.0)
    average.update(100)  # decay 0.5: halfway from the start to 2
    raw = model[0].bias.detach().clone()
    with average.applied() as m:
        assert m is model
        torch.testing.assert_close(model[0].bias, average.shadow["0.bias"])
        assert not torch.equal(model[0].bias, raw)
    assert torch.equal(model[0].bias, raw)


def test_resume_puts_the_average_in_the_shadow_and_the_raw_weights_in_the_model():
    model = _model()
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    average.update(100)
    saved_raw = average.raw_tensors()
    assert all(k.startswith(RAW) for k in saved_raw)
    with average.applied():
        saved_average = {n: p.detach().clone() for n, p in model.state_dict().items()}

    # a new process: the checkpoint's model.safetensors (the average) is loaded, then the training state
    again = _model(seed=1)
    again.load_state_dict(saved_average)
    resumed = WeightAverage(again, decay=0.5)
    resumed.resume(saved_raw)
    assert torch.equal(again[0].weight, model[0].weight)
    assert torch.equal(resumed.shadow["0.weight"], average.shadow["0.weight"])


def test_resume_of_a_run_that_averaged_nothing_starts_the_average_at_its_weights():
    model = _model()
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    average.resume({})
    assert torch.equal(average.shadow["0.weight"], model[0].weight)


def test_the_decay_must_be_a_rate():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_model(), decay=1.0)
