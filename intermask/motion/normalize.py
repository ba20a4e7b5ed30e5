"""Feature normalisation with one mean/std pair shared by both persons."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from intermask.errors import InterMaskError
from intermask.motion.features import FEATURE_DIM


@dataclass
class Normalizer:
    mean: np.ndarray  # (262,)
    std: np.ndarray  # (262,)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float32).reshape(-1)
        if self.mean.shape != (FEATURE_DIM,) or self.std.shape != (FEATURE_DIM,):
            raise InterMaskError(f"Normalisation stats must have {FEATURE_DIM} entries each; got "
                                 f"{self.mean.shape} and {self.std.shape}.")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.std).all()) or (self.std <= 0).any():
            raise InterMaskError("Normalisation stats hold NaN, Inf or a non-positive std.")

    def normalize(self, x):
        return (x - self._like(self.mean, x)) / self._like(self.std, x)

    def denormalize(self, x):
        return x * self._like(self.std, x) + self._like(self.mean, x)

    @staticmethod
    def _like(v: np.ndarray, x):
        if isinstance(x, np.ndarray):
            return v.astype(x.dtype, copy=False)
        import torch

        return torch.as_tensor(v, dtype=x.dtype, device=x.device)

    @classmethod
    def fit(cls, features: np.ndarray, min_std: float = 1e-3) -> "Normalizer":
        """Stats over (N, 262) frames. A floor on std keeps always-constant dims (e.g. contacts) finite."""
        features = np.asarray(features, dtype=np.float64).reshape(-1, FEATURE_DIM)
        return cls(features.mean(0), np.maximum(features.std(0), min_std))

    def save(self, path: str | os.PathLike) -> None:
        np.savez(path, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Normalizer":
        path = Path(path)
        if not path.exists():
            raise InterMaskError(f"Normalisation stats file {path} does not exist.")
        with np.load(path, allow_pickle=False) as data:
            return cls(data["mean"], data["std"])
