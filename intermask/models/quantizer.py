"""Single codebook with EMA updates and dead-code reset, exact under data parallelism (docs/design-notes.md).

The codebook is a buffer, as are the EMA statistics (``code_sum``, ``code_count``) and the ``initted`` flag,
so all of them are saved with the weights and resuming continues the same EMA (the official code loses
them). Sums and counts are reduced over processes before the update; codebook init and dead-code reset read
the encoder vectors of the whole global batch; Gumbel noise and reset choices come from keyed random numbers.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from intermask.errors import InterMaskError
from intermask.models import keyed_random as kr
from intermask.models.collective import LOCAL, Collective


class QuantizerEMA(nn.Module):
    def __init__(self, nb_code: int, dim: int, mu: float = 0.99, sample_temp: float = 0.5):
        super().__init__()
        self.nb_code, self.dim, self.mu, self.sample_temp = nb_code, dim, mu, sample_temp
        self.register_buffer("codebook", torch.zeros(nb_code, dim))
        self.register_buffer("code_sum", torch.zeros(nb_code, dim))
        self.register_buffer("code_count", torch.zeros(nb_code))
        self.register_buffer("initted", torch.zeros((), dtype=torch.bool))
        self.collective: Collective = LOCAL

    def distances(self, flat: torch.Tensor) -> torch.Tensor:
        cb = self.codebook
        return (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ cb.t() + cb.pow(2).sum(1)[None])

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, M, dim) → nearest code ids (B, M) (argmin; used by encode and at evaluation)."""
        return self.distances(x.reshape(-1, self.dim)).argmin(1).view(x.shape[:2])

    def dequantize(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.codebook)

    # -- training-time helpers ------------------------------------------------------------------------

    def _global_vectors(self, flat: torch.Tensor, keys: torch.Tensor, stream: int, count: int) -> torch.Tensor:
        """``count`` vectors drawn from the global batch, tiled with keyed noise when it holds too few."""
        allv = self.collective.gather(flat.detach().contiguous())
        batch_key = int(kr.derive(self.collective.gather(keys.contiguous())[:1], kr.STREAM_BATCH)[0])
        n = allv.shape[0]
        if n < count:
            reps = math.ceil(count / n)
            noise_key = torch.tensor([batch_key], dtype=torch.int64, device=flat.device)
            u = kr.uniform(noise_key, stream + 100, (2, reps * n, self.dim))[0]
            normal = torch.sqrt(-2 * torch.log(u[0].clamp_min(1e-7))) * torch.cos(2 * math.pi * u[1])
            allv = allv.repeat(reps, 1) + normal * (0.01 / math.sqrt(self.dim))
        if stream == kr.STREAM_CODEBOOK:  # init takes the first vectors, as the official code does
            return allv[:count]
        perm = kr.permutation(batch_key, allv.shape[0], stream, device=flat.device)
        return allv[perm[:count]]

    @torch.no_grad()
    def _init_codebook(self, flat: torch.Tensor, keys: torch.Tensor) -> None:
        self.codebook.copy_(self._global_vectors(flat, keys, kr.STREAM_CODEBOOK, self.nb_code))
        self.code_sum.copy_(self.codebook)
        self.code_count.fill_(1.0)
        self.initted.fill_(True)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, ids: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(ids, self.nb_code).to(flat.dtype)  # (N, nb)
        stats = self.collective.sum(torch.cat([onehot.t() @ flat, onehot.sum(0)[:, None]], dim=1))
        code_sum, count = stats[:, :-1], stats[:, -1]
        self.code_sum.mul_(self.mu).add_(code_sum, alpha=1 - self.mu)
        self.code_count.mul_(self.mu).add_(count, alpha=1 - self.mu)
        usage = (self.code_count >= 1.0)[:, None]
        update = self.code_sum / self.code_count.clamp_min(1e-12)[:, None]
        if bool(usage.all()):
            self.codebook.copy_(update)
        else:  # every process sees the same reduced counts, so all take this branch together
            rand = self._global_vectors(flat, keys, kr.STREAM_GUMBEL + 50, self.nb_code)
            self.codebook.copy_(torch.where(usage, update, rand))
        prob = count / count.sum().clamp_min(1)
        return torch.exp(-(prob * torch.log(prob + 1e-7)).sum())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, M, dim) → (quantised with straight-through gradient, ids (B, M), commit loss, perplexity).

        The commitment loss is the local mean; the caller scales it for the global batch.
        """
        b, m, d = x.shape
        flat = x.reshape(-1, d)
        if self.training:
            keys = kr.keys_or_random(b, x.device)
            if not bool(self.initted):
                self._init_codebook(flat, keys)
            logits = -self.distances(flat).view(b, m, -1)
            if self.sample_temp > 0:
                logits = logits / self.sample_temp + kr.gumbel(keys, kr.STREAM_GUMBEL, (m, self.nb_code))
            ids = logits.argmax(-1)
            quant = self.dequantize(ids)
            perplexity = self._update(flat, ids.reshape(-1), keys)
        else:
            ids = self.quantize(x)
            quant = self.dequantize(ids)
            count = torch.bincount(ids.reshape(-1), minlength=self.nb_code).float()
            prob = count / count.sum()
            perplexity = torch.exp(-(prob * torch.log(prob + 1e-7)).sum())
        commit = F.mse_loss(x, quant.detach())
        return x + (quant - x).detach(), ids, commit, perplexity


@torch.no_grad()
def split_codes(state: dict[str, torch.Tensor], nb_code: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """A trained quantiser's buffers (``prefix`` + codebook, code_sum, code_count) grown to ``nb_code`` codes (up
    to twice as many) by splitting: each of the most used old codes gets a twin, the pair nudged apart along a
    random direction by a thousandth of the code's length, sharing its EMA count. Every old id keeps its row, each
    encoder vector still finds (nearly) the code it had, and EMA pulls the twins apart as they take different
    halves of its vectors; a twin that gets none is reset like any dead code."""
    book, count = state[prefix + "codebook"], state[prefix + "code_count"]
    n = book.shape[0]
    if not n <= nb_code <= 2 * n:
        raise InterMaskError(f"a codebook of {n} codes can grow to {n}-{2 * n} codes (--nb-code), not {nb_code}.")
    src = count.argsort(descending=True, stable=True)[:nb_code - n]
    direction = torch.randn(len(src), book.shape[1], generator=torch.Generator().manual_seed(0))
    nudge = direction * (1e-3 * book[src].norm(dim=1, keepdim=True) / direction.norm(dim=1, keepdim=True))
    new_book = torch.cat([book, book[src] + nudge])
    new_book[src] -= nudge
    new_count = torch.cat([count, count[src] / 2])
    new_count[src] /= 2
    return {**state, prefix + "codebook": new_book, prefix + "code_count": new_count,
            prefix + "code_sum": new_book * new_count[:, None]}
