"""Counter-based random numbers keyed by sample, so that N processes draw what one process draws.

Every random decision that shapes a training sample (mask ratio, masked positions, BERT corruption,
condition dropout, dropout masks, Gumbel noise) is a pure function of

    (per-sample key, stream id, element counter)  →  uniform float in [0, 1)

where the per-sample key is derived from (seed, global step, index of the sample in the global batch). A
sample therefore gets the same numbers whichever process holds it and however the global batch is split.

The hash works on 32-bit values held in int64 tensors; every product stays below 2^63, so the integer ops
are exact on every device. Its mixing function is the well-known xor-shift-multiply integer hash (two
multiply rounds); counters advance along a Weyl sequence before mixing.

Dropout layers read the keys of the current forward pass from :func:`scope`, a context manager that also
hands out one fresh stream per draw (the n-th draw in a forward pass gets stream n, and every process runs
the same code path, so the streams line up).

Outside a scope the models behave as ordinary torch modules: dropout and the quantizer's draws come from
torch's global generator (so ``model.train(); model(x)`` works, just not reproducibly across process counts).
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import Iterator, Sequence

import torch

MASK32 = 0xFFFFFFFF
_MUL = 0x45D9F3B  # < 2^27: x (< 2^32) times this stays < 2^59
_WEYL = 0x61C88647  # odd, < 2^31: counter (< 2^32) times this stays < 2^63
_INV24 = 1.0 / (1 << 24)

# Fixed stream ids for draws made outside the per-forward counter (masking, BERT, condition dropout, ...).
# Counter streams of :func:`scope` start above these.
STREAM_MODE = 1
STREAM_RATIO = 2
STREAM_PERM = 3
STREAM_BERT = 4
STREAM_BERT_CODE = 5
STREAM_COND = 6
STREAM_GUMBEL = 7
STREAM_CODEBOOK = 8
STREAM_BATCH = 9
_COUNTER_BASE = 1 << 16


def _mix(x: torch.Tensor) -> torch.Tensor:
    """Bijective 32-bit mix of an int64 tensor holding values in [0, 2^32)."""
    x = ((x >> 16) ^ x) * _MUL & MASK32
    x = ((x >> 16) ^ x) * _MUL & MASK32
    return (x >> 16) ^ x


def mix_int(*values: int) -> int:
    """Hash a sequence of Python ints (any size, any sign) into one 32-bit key."""
    h = torch.zeros((), dtype=torch.int64)
    for v in values:
        v = int(v)
        for part in (v & MASK32, (v >> 32) & MASK32, (1 if v < 0 else 0)):
            h = _mix((h + part * 1 + _WEYL) & MASK32)
    return int(h)


def sample_keys(seed: int, step: int, positions: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Per-sample keys (n,) int64 for the samples at ``positions`` of the global batch of ``step``."""
    base = mix_int(seed, step)
    pos = torch.as_tensor(positions, dtype=torch.int64) & MASK32
    return _mix((pos * _WEYL + base) & MASK32)


def derive(keys: torch.Tensor, stream: int) -> torch.Tensor:
    """Keys (...) → new keys for an independent stream."""
    s = mix_int(stream)
    return _mix((keys ^ s) & MASK32)


def expand_rows(keys: torch.Tensor, rows: int) -> torch.Tensor:
    """Keys (B,) → (B·rows,) keys for a tensor whose dim 0 folds each sample into ``rows`` sample-major rows."""
    if rows == 1:
        return keys
    sub = torch.arange(rows, device=keys.device, dtype=torch.int64)
    return _mix((keys[:, None] * 1 + (sub[None] + 1) * _WEYL) & MASK32).reshape(-1)


def uniform(keys: torch.Tensor, stream: int, shape: Sequence[int] | int) -> torch.Tensor:
    """Uniform floats in [0, 1): (len(keys), *shape), float32, on the keys' device.

    Element e of row i depends only on (keys[i], stream, e): rows can be split across processes freely.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = math.prod(shape)
    if n >= 1 << 32:
        raise ValueError("keyed uniform: more than 2^32 elements per sample")
    base = derive(keys.to(torch.int64), stream)
    ctr = torch.arange(n, device=keys.device, dtype=torch.int64)
    h = _mix((base[:, None] + ctr[None] * _WEYL) & MASK32)
    return ((h >> 8).to(torch.float32) * _INV24).reshape((keys.shape[0],) + shape)


def gumbel(keys: torch.Tensor, stream: int, shape: Sequence[int] | int) -> torch.Tensor:
    u = uniform(keys, stream, shape).clamp_(min=1e-7, max=1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def permutation(key: int, n: int, stream: int, device=None) -> torch.Tensor:
    """A keyed random permutation of range(n) (ties are broken by index, so it is total)."""
    u = uniform(torch.tensor([key], dtype=torch.int64, device=device), stream, n)[0]
    return torch.argsort(u, stable=True)


# ----------------------------------------------------------------------------------------------------
# The per-forward scope read by dropout layers
# ----------------------------------------------------------------------------------------------------

class _Scope:
    def __init__(self, keys: torch.Tensor):
        self.keys = keys
        self.counter = 0

    def next_stream(self) -> int:
        self.counter += 1
        return _COUNTER_BASE + self.counter


_local = threading.local()


@contextlib.contextmanager
def scope(keys: torch.Tensor) -> Iterator[_Scope]:
    """Make ``keys`` (B,) the per-sample keys of every keyed draw inside the block."""
    prev = getattr(_local, "scope", None)
    _local.scope = _Scope(keys)
    try:
        yield _local.scope
    finally:
        _local.scope = prev


def current() -> _Scope | None:
    return getattr(_local, "scope", None)


def keys_or_random(batch: int, device=None) -> torch.Tensor:
    """The keys of the current scope, or (outside one) fresh keys from torch's global generator."""
    sc = current()
    if sc is not None:
        return sc.keys.to(device)
    return torch.randint(0, MASK32 + 1, (batch,), dtype=torch.int64).to(device)


def draw_like(x: torch.Tensor) -> torch.Tensor:
    """Uniforms shaped like ``x``, whose dim 0 is the batch with each sample folded into equal rows (inside a
    :func:`scope` only)."""
    sc = current()
    if sc is None:
        raise RuntimeError("keyed draw outside keyed_random.scope(keys)")
    b = sc.keys.shape[0]
    if x.shape[0] % b:
        raise RuntimeError(f"keyed draw: leading dim {x.shape[0]} is not a multiple of the batch {b}")
    rows = x.shape[0] // b
    keys = expand_rows(sc.keys.to(x.device), rows)
    return uniform(keys, sc.next_stream(), x.shape[1:]).to(x.dtype)


def keyed_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout keyed by sample inside a :func:`scope`; plain ``F.dropout`` outside one."""
    if not training or p <= 0.0:
        return x
    if current() is None:
        return torch.nn.functional.dropout(x, p, training=True)
    keep = draw_like(x) >= p
    return x * keep / (1.0 - p)
