"""The collective operations the models need for exact multi-process training, with a local default.

A model holds a :class:`Collective`; one process uses :data:`LOCAL` (identity operations), and
``train/distributed.py`` supplies a ``torch.distributed`` implementation. Models only ever sum across
processes (global counts, EMA statistics) or gather in rank order (which is global-batch order, because each
rank holds a contiguous chunk of the global batch).
"""
from __future__ import annotations

import torch


class Collective:
    world_size: int = 1
    rank: int = 0

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over processes (returns a tensor; the input may be modified)."""
        return t

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate equally shaped tensors of all processes along dim 0, in rank order."""
        return t


LOCAL = Collective()
