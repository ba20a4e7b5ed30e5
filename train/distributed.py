"""Exact-equivalence data parallelism: N processes train the model one process trains (docs/design-notes.md,
"Data parallelism").

The contract:

- the global batch is fixed; step k of epoch e takes ``perm[k·B:(k+1)·B]`` of a permutation drawn from
  (seed, e), and rank r takes the contiguous chunk ``[r·B/N, (r+1)·B/N)`` of it (:class:`GlobalBatchPlan`);
- every random draw that shapes a sample is keyed by (seed, step, position in the global batch)
  (:func:`batch_keys`, ``intermask/models/keyed_random.py``); datasets key theirs by (seed, epoch, index);
- the transformer divides its losses by global (all-reduced) counts; the VQ's loss terms each average over the
  processes to their global value, so its script divides the loss by the number of processes; gradients are
  summed over ranks by one all-reduce after backward (:meth:`Dist.sum_gradients`), with no DDP wrapper;
- the VQ's EMA statistics are summed and its codebook init/reset reads all-gathered vectors, through the
  :class:`TorchCollective` handed to the models.

``torchrun --nproc_per_node=N train/train_vq.py ...`` sets the environment this module reads; a plain
``python train/train_vq.py`` is N = 1. gloo on CPU, NCCL when CUDA is available.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist

from intermask.errors import InterMaskError
from intermask.models import keyed_random as kr
from intermask.models.collective import Collective


class TorchCollective(Collective):
    def __init__(self, rank: int, world_size: int):
        self.rank, self.world_size = rank, world_size

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=0)


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    collective: Collective | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def sum_gradients(self, params) -> None:
        """All-reduce (sum) the gradients of ``params`` in one flat buffer; a missing gradient counts as zero."""
        params = [p for p in params if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if not self.enabled:
            return
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def sum_scalars(self, values: dict[str, float]) -> dict[str, float]:
        """Sum a dict of floats over ranks (for logging and validation)."""
        if not self.enabled or not values:
            return dict(values)
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return dict(zip(keys, t.tolist()))

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def init_distributed(device: str = "auto") -> Dist:
    """Join the process group torchrun describes (or return a single-process Dist)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if world <= 1:
        return Dist(device=torch.device(device if device != "cuda" else "cuda:0"))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank=rank, world_size=world, local_rank=local_rank, device=dev,
                collective=TorchCollective(rank, world))


def shutdown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(device: str = "auto") -> Iterator[Dist]:
    """``with process_group(args.device) as d:`` — :func:`init_distributed` on entry, :func:`shutdown` on exit.

    A body that ends normally (a return included) waits for every rank before the group is torn down: gloo fails
    ("Connection closed by peer") when one rank leaves while its peer is still inside a collective. A body that
    raises does not wait, since its peers may never reach that barrier.
    """
    d = init_distributed(device)
    try:
        yield d
        d.barrier()
    finally:
        shutdown(d)


class GlobalBatchPlan:
    """Which dataset indices each rank reads at each global step (drop_last: partial batches are skipped)."""

    POOL = 16  # batches per length-sorting pool

    def __init__(self, n_items: int, global_batch: int, world_size: int, rank: int, seed: int, shuffle: bool = True,
                 lengths: list[int] | None = None):
        if global_batch % world_size:
            raise InterMaskError(f"The global batch ({global_batch}) must be divisible by the number of processes "
                                 f"({world_size}).")
        if n_items < global_batch:
            raise InterMaskError(f"The data set has {n_items} items, fewer than one global batch of {global_batch}; "
                                 "lower --batch-size.")
        self.n, self.batch, self.world, self.rank = n_items, global_batch, world_size, rank
        self.seed, self.shuffle = seed, shuffle
        self.local = global_batch // world_size
        self.steps_per_epoch = n_items // global_batch
        self.lengths = torch.as_tensor(lengths) if lengths is not None else None
        self._perm: tuple[int, torch.Tensor] | None = None

    def permutation(self, epoch: int) -> torch.Tensor:
        """The epoch's item order; consecutive chunks of ``global_batch`` are its batches."""
        if not self.shuffle:
            return torch.arange(self.n)
        g = torch.Generator().manual_seed(kr.mix_int(self.seed, epoch, 0x5EED))
        perm = torch.randperm(self.n, generator=g)
        if self.lengths is None:
            return perm
        # Length buckets: sort pools of POOL batches by length and cut them into batches, so a batch pads to a
        # length close to its members'; then shuffle the batches so that lengths do not come in runs.
        pool = self.batch * self.POOL
        usable = self.steps_per_epoch * self.batch
        perm = perm[:usable]
        batches = []
        for i in range(0, usable, pool):
            part = perm[i:i + pool]
            part = part[torch.argsort(self.lengths[part], stable=True)]
            batches += list(part.split(self.batch))
        order = torch.randperm(len(batches), generator=g)
        return torch.cat([batches[i] for i in order.tolist()])

    def padded_length(self, step: int) -> int:
        """The longest item of global step ``step``'s batch. Every rank pads its share to it: keyed random draws
        (masks, dropout) are laid out over the padded shape, so equal shapes keep N processes equal to one."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, self.permutation(epoch))
        return int(self.lengths[self._perm[1][k * self.batch:(k + 1) * self.batch]].max())

    def local_positions(self) -> range:
        """Positions of this rank's samples inside the global batch."""
        return range(self.rank * self.local, (self.rank + 1) * self.local)

    def epoch_batches(self, epoch: int, start_step: int = 0) -> list[list[int]]:
        """This rank's index lists for steps ``start_step..`` of ``epoch`` (step numbers within the epoch)."""
        perm = self.permutation(epoch).tolist()
        out = []
        for k in range(start_step, self.steps_per_epoch):
            chunk = perm[k * self.batch: (k + 1) * self.batch]
            out.append(chunk[self.rank * self.local: (self.rank + 1) * self.local])
        return out


def batch_keys(seed: int, step: int, plan: GlobalBatchPlan) -> torch.Tensor:
    """Per-sample keys (local batch,) for global step ``step``."""
    return kr.sample_keys(seed, step, list(plan.local_positions()))
