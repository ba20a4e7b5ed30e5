"""bench/long_clips.py compares the API's rounds for long clips with exactly the rounds asked for."""
import importlib.util
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _long_clips():
    sys.path.insert(0, str(BENCH))  # long_clips imports its sibling result_file
    spec = importlib.util.spec_from_file_location("long_clips", BENCH / "long_clips.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixed_rounds_ignore_the_length_and_the_api_rule_does_not():
    bench = _long_clips()
    ten_seconds = 2 * 5 * 75
    assert bench.FixedRounds(time_steps=20).steps_for(ten_seconds) == 20
    assert bench.SamplingSettings(time_steps=20).steps_for(ten_seconds) > 20


def test_closest_pelvises_finds_the_frame_where_the_persons_meet():
    bench = _long_clips()
    j = np.zeros((2, 5, 22, 3))
    j[1, :, :, 0] = np.array([3.0, 1.5, 0.2, 1.5, 3.0])[:, None]  # person B walks up to person A and back
    assert abs(bench.closest_pelvises(j) - 0.2) < 1e-9
