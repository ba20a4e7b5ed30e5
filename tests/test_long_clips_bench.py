"""bench/long_clips.py compares the API's rounds for long clips with exactly the rounds asked for."""
import numpy as np

from fixtures import load_bench


def test_fixed_rounds_ignore_the_length_and_the_api_rule_does_not():
    bench = load_bench("long_clips")
    ten_seconds = 2 * 5 * 75
    assert bench.FixedRounds(time_steps=20).steps_for(ten_seconds) == 20
    assert bench.SamplingSettings(time_steps=20).steps_for(ten_seconds) > 20


def test_closest_pelvises_finds_the_frame_where_the_persons_meet():
    bench = load_bench("long_clips")
    j = np.zeros((2, 5, 22, 3))
    j[1, :, :, 0] = np.array([3.0, 1.5, 0.2, 1.5, 3.0])[:, None]  # person B walks up to person A and back
    assert abs(bench.closest_pelvises(j) - 0.2) < 1e-9
