"""Retrieval and distribution metrics on embeddings whose answers are known in closed form."""
import numpy as np
import pytest
import torch

from intermask.errors import InterMaskError
from intermask.metrics import retrieval as R


def unit_rows(rng, n, d):
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_perfect_matching_gives_r_precision_one_and_zero_mm_dist():
    emb = unit_rows(np.random.default_rng(0), 96, 16)
    res = R.matching_metrics(emb, emb, batch_size=32)
    assert res["R_precision_top1"] == res["R_precision_top3"] == 1.0
    assert res["MM_Dist"] == pytest.approx(0.0, abs=1e-6)


def test_random_pairs_give_r_precision_near_k_over_batch():
    rng = np.random.default_rng(1)
    n, bs = 32 * 200, 32
    r = R.r_precision(unit_rows(rng, n, 8), unit_rows(rng, n, 8), batch_size=bs)
    np.testing.assert_allclose(r, [1 / bs, 2 / bs, 3 / bs], atol=0.01)


def test_r_precision_counts_ranks_within_the_batch_only():
    # Points on a line 10 apart; each motion sits 4 past its text, so the own motion is always nearest.
    t = np.arange(8, dtype=float)[:, None] * 10.0
    m = t + 4.0
    res = R.matching_metrics(t, m, batch_size=4)
    assert res["R_precision_top1"] == 1.0 and res["MM_Dist"] == pytest.approx(4.0)
    m2 = t + 0.0
    m2[[0, 1]] = m2[[1, 0]]  # swap the motions of pairs 0 and 1: both miss at top-1, hit at top-2
    res2 = R.matching_metrics(t, m2, batch_size=4)
    assert res2["R_precision_top1"] == pytest.approx(6 / 8)
    assert res2["R_precision_top2"] == 1.0


def test_matching_needs_a_full_batch_and_accepts_torch():
    emb = torch.randn(10, 4)
    with pytest.raises(InterMaskError, match="full batch"):
        R.matching_metrics(emb, emb, batch_size=32)
    assert R.mm_dist(emb, emb + 1.0) == pytest.approx(2.0, rel=1e-6)  # ‖(1,1,1,1)‖ = 2


def test_fid_of_identical_sets_is_zero():
    emb = np.random.default_rng(2).normal(size=(500, 8))
    assert abs(R.fid(emb, emb)) < 1e-6


def test_fid_matches_the_analytic_frechet_distance():
    rng = np.random.default_rng(3)
    d, n = 4, 200_000
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d)) * 2.0 + 0.5  # N(0.5, 4I)
    # Scale 1: ‖Δμ‖² + tr(I + 4I − 2·2I) = 0.25·d + d
    assert R.fid(a, b, emb_scale=1.0) == pytest.approx(0.25 * d + d, rel=0.02)
    # Scale s multiplies every term by s².
    assert R.fid(a, b) == pytest.approx(36 * (0.25 * d + d), rel=0.02)
    # The closed form itself, with diagonal covariances: Σ(√σ1 − √σ2)² per dimension.
    s1, s2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    assert R.frechet_distance([0, 0], s1, [3, 4], s2) == pytest.approx(25 + (1 - 3) ** 2 + (2 - 1) ** 2)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_frechet_distance_survives_singular_covariances():
    s = np.zeros((3, 3))
    s[0, 0] = 1.0
    assert np.isfinite(R.frechet_distance(np.zeros(3), s, np.ones(3), s))


def test_diversity_uses_three_times_the_distance():
    # Two clusters 1 apart: random pairs are at distance 0 or 1, half of the time each.
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0]]), 500, axis=0)
    val = R.diversity(x, np.random.default_rng(4), n_pairs=300)
    assert val == pytest.approx(3 * 0.5, abs=0.25)
    again = R.diversity(x, np.random.default_rng(4), n_pairs=300)
    assert val == again
    with pytest.raises(InterMaskError, match="300"):
        R.diversity(x[:100], np.random.default_rng(0))


def test_multimodality_scalings_differ_by_three():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(20, 30, 8))
    im = R.multimodality(emb, np.random.default_rng(6), scaling="intermask")
    ig = R.multimodality(emb, np.random.default_rng(6), scaling="intergen")
    assert im == pytest.approx(3 * ig)
    # Identical generations per prompt → zero multimodality.
    same = np.repeat(rng.normal(size=(20, 1, 8)), 30, axis=1)
    assert R.multimodality(same, np.random.default_rng(0)) == pytest.approx(0.0)


def test_mean_ci_and_summary():
    mean, ci = R.mean_ci([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and ci == pytest.approx(1.96 * np.std([1, 2, 3, 4]) / 2)
    s = R.summarize([{"FID": 1.0, "x": 2.0}, {"FID": 3.0}])
    assert set(s) == {"FID"} and s["FID"][0] == 2.0
