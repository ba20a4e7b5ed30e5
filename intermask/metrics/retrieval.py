"""Text-motion retrieval and distribution metrics on evaluator embeddings (docs/design-notes.md, "Evaluation").

Pure functions on (N, D) embeddings given as numpy arrays or torch tensors; computed in float64. Every
function that draws random pairs takes a ``numpy.random.Generator``.

Batch size is part of R-precision and MM-Dist: motions are ranked only against the other motions of the same
fixed-size batch, so numbers from different batch sizes are not comparable. The InterHuman protocol uses 96;
this project's default is 32 because its small InterSynth test split would otherwise give only a handful of
batches. Reports must state the batch size.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from intermask.errors import InterMaskError

EMB_SCALE = 6.0  # as InterMask's code: FID and diversity scale the evaluator embeddings by 6 ...
DIVIDE_BY = 2.0  # ... and diversity/multimodality divide differences by 2, i.e. 3·‖a − b‖.
DEFAULT_BATCH = 32


def as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InterMaskError("Embeddings contain NaN or Inf values; the evaluator input was probably invalid.")
    return arr


def _check_pairs(text, motion) -> tuple[np.ndarray, np.ndarray]:
    t, m = as_numpy(text), as_numpy(motion)
    if t.ndim != 2 or t.shape != m.shape:
        raise InterMaskError(f"Text and motion embeddings must both be (N, D) with the same shape; got "
                             f"{t.shape} and {m.shape}.")
    return t, m


def distance_matrix(a, b) -> np.ndarray:
    """Euclidean distances (N, M) between the rows of a (N, D) and b (M, D)."""
    a, b = as_numpy(a), as_numpy(b)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def matching_metrics(text, motion, batch_size: int = DEFAULT_BATCH, top_k: int = 3,
                     rng: np.random.Generator | None = None) -> dict[str, float]:
    """R-precision top-1..top_k and MM-Dist over full batches of matched (text_i, motion_i) pairs.

    For each text, the batch's motions are ranked by Euclidean distance; top-k counts a hit when its own
    motion is among the k nearest (cumulative: top-2 includes top-1). A last partial batch is dropped, as the
    original's drop_last loader does. ``rng``, if given, shuffles the pairs before batching. MM-Dist is the
    mean distance of the matched pairs in those batches, unscaled.
    """
    t, m = _check_pairs(text, motion)
    n_batches = t.shape[0] // batch_size
    if batch_size < top_k or n_batches == 0:
        raise InterMaskError(f"R-precision needs at least one full batch of {batch_size} pairs (and a batch of at "
                             f"least top_k={top_k}); got {t.shape[0]} pairs.")
    order = rng.permutation(t.shape[0]) if rng is not None else np.arange(t.shape[0])
    hits = np.zeros(top_k)
    matched = []
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        dist = distance_matrix(t[idx], m[idx])
        own = np.diag(dist)
        # Rank of the own motion = how many motions are strictly closer (ties count in its favour, as a
        # stable argsort with the own index first would).
        rank = (dist < own[:, None]).sum(1)
        for k in range(top_k):
            hits[k] += (rank <= k).sum()
        matched.append(own)
    total = n_batches * batch_size
    out = {f"R_precision_top{k + 1}": float(hits[k] / total) for k in range(top_k)}
    out["MM_Dist"] = float(np.concatenate(matched).mean())
    out["batch_size"] = batch_size
    return out


def r_precision(text, motion, batch_size: int = DEFAULT_BATCH, top_k: int = 3,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Top-1..top_k R-precision as an array of length top_k (see :func:`matching_metrics`)."""
    res = matching_metrics(text, motion, batch_size, top_k, rng)
    return np.array([res[f"R_precision_top{k + 1}"] for k in range(top_k)])


def mm_dist(text, motion) -> float:
    """Mean Euclidean distance between matched text and motion embeddings (no scaling)."""
    t, m = _check_pairs(text, motion)
    return float(np.linalg.norm(t - m, axis=1).mean())


# ---------------------------------------------------------------------------------------------------- FID
def gaussian_stats(emb, emb_scale: float = EMB_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of emb_scale·emb (rows are samples)."""
    x = as_numpy(emb) * emb_scale
    if x.ndim != 2 or x.shape[0] < 2:
        raise InterMaskError(f"FID needs (N, D) embeddings with N ≥ 2; got shape {x.shape}.")
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2(Σ1Σ2)^½).

    The square root of a product of (near-)singular covariances can come out non-finite; then a small
    diagonal offset is added to both, as the reference code does. Imaginary parts from round-off are dropped.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise InterMaskError("FID statistics of the two sets have different dimensions.")
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid(emb_a, emb_b, emb_scale: float = EMB_SCALE) -> float:
    """Fréchet distance between Gaussians fitted to emb_scale·emb_a and emb_scale·emb_b (GT vs generated)."""
    return frechet_distance(*gaussian_stats(emb_a, emb_scale), *gaussian_stats(emb_b, emb_scale))


# ---------------------------------------------------------------------------------------------------- spread
def diversity(emb, rng: np.random.Generator, n_pairs: int = 300, emb_scale: float = EMB_SCALE,
              divide_by: float = DIVIDE_BY) -> float:
    """Mean ‖emb_scale·(e_a − e_b)/divide_by‖ over n_pairs random pairs (defaults: 3‖e_a − e_b‖).

    Both index lists are drawn without replacement from all N embeddings, independently, as the reference.
    """
    x = as_numpy(emb)
    if x.ndim != 2 or x.shape[0] < n_pairs:
        raise InterMaskError(f"Diversity with {n_pairs} pairs needs at least {n_pairs} embeddings; got {x.shape[0]}.")
    a = rng.choice(x.shape[0], n_pairs, replace=False)
    b = rng.choice(x.shape[0], n_pairs, replace=False)
    return float(np.linalg.norm(emb_scale * (x[a] - x[b]) / divide_by, axis=1).mean())


MULTIMODALITY_SCALES = {
    # InterMask's metrics scale like diversity: ‖6·(a − b)/2‖ = 3‖a − b‖.
    "intermask": EMB_SCALE / DIVIDE_BY,
    # InterGen's metrics.py uses the plain distance.
    "intergen": 1.0,
}
# Reported: "intermask". The paper we re-implement, and the reproduction anchors we compare against
# (MModality ≈ 2.3), were produced by InterMask's code, and this scaling keeps multimodality in the
# same units as diversity, so the two can be read side by side. The InterGen value is exactly 1/3 of it.
REPORTED_MULTIMODALITY = "intermask"


def multimodality(emb, rng: np.random.Generator, n_pairs: int = 10, scaling: str = REPORTED_MULTIMODALITY) -> float:
    """emb (C, R, D): R generations for each of C prompts. n_pairs index pairs among the R (the same pairs for
    every prompt, drawn without replacement), mean of scale·‖a − b‖ with scale from MULTIMODALITY_SCALES."""
    x = as_numpy(emb)
    if scaling not in MULTIMODALITY_SCALES:
        raise InterMaskError(f"Unknown multimodality scaling {scaling!r}; use one of {sorted(MULTIMODALITY_SCALES)}.")
    if x.ndim != 3 or x.shape[1] < n_pairs:
        raise InterMaskError(f"Multimodality needs (prompts, repeats ≥ {n_pairs}, D) embeddings; got {x.shape}.")
    a = rng.choice(x.shape[1], n_pairs, replace=False)
    b = rng.choice(x.shape[1], n_pairs, replace=False)
    return float(MULTIMODALITY_SCALES[scaling] * np.linalg.norm(x[:, a] - x[:, b], axis=-1).mean())


# ---------------------------------------------------------------------------------------------------- summary
def mean_ci(values) -> tuple[float, float]:
    """Mean and 95% confidence half-width 1.96·std/√n over replications (population std, as the reference)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise InterMaskError("mean_ci needs at least one replication.")
    return float(v.mean()), float(1.96 * v.std() / np.sqrt(v.size))


def summarize(replications: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """{metric: (mean, ci95)} over a list of per-replication metric dicts (keys present in all of them)."""
    if not replications:
        raise InterMaskError("No replications to summarise.")
    keys = [k for k in replications[0] if all(k in r for r in replications)]
    return {k: mean_ci([r[k] for r in replications]) for k in keys}
