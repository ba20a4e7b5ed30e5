"""An exponential moving average of a model's trainable weights (``--ema-decay``).

Successive saves of one transformer run score differently on the probe by a few points, so the average of the
weights over the last few hundred steps was tried as a steadier model (once, continuing the bundle: the lowest
validation token loss of any run, but not a better probe score; docs/design-notes.md, "Weight average"). With
averaging on, what a run validates, probes and saves as ``model.safetensors`` is the average; the raw weights the
optimiser works on travel in the training state, so ``--resume`` continues both.

Every process applies the same update to the same weights, so N processes still give the model of one.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

from intermask.errors import InterMaskError

RAW = "raw."  # prefix of the raw weights among a checkpoint's training-state tensors


class WeightAverage:
    """Shadow copies of ``model``'s trainable parameters, updated after each optimiser step."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an average's decay is in (0, 1), not {decay}")
        self.model, self.decay = model, decay
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.shadow = {n: p.detach().clone() for n, p in self.params.items()}

    def rate(self, step: int) -> float:
        """The decay after global step ``step`` (1-based): short early on, so that the average of a run started
        from fresh weights does not carry them for thousands of steps; a function of the step, so that a resumed
        run continues the same sequence."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, step: int) -> None:
        w = 1.0 - self.rate(step)
        for n, p in self.params.items():
            # lerp keeps a constant weight exactly constant (x·d + x·(1−d) would not be, in floating point).
            self.shadow[n].lerp_(p.detach(), w)

    @contextmanager
    def applied(self):
        """The model holds the averaged weights inside the block and its own weights again after it."""
        raw = {n: p.detach().clone() for n, p in self.params.items()}
        self._copy(self.shadow)
        try:
            yield self.model
        finally:
            self._copy(raw)

    def raw_tensors(self) -> dict[str, torch.Tensor]:
        """The model's own (not averaged) weights, keyed for a checkpoint's training state."""
        return {RAW + n: p.detach().cpu().contiguous().clone() for n, p in self.params.items()}

    def resume(self, tensors: dict[str, torch.Tensor]) -> None:
        """Continue from a checkpoint: the model holds the saved average (its ``model.safetensors``); ``tensors``
        (its training state) hold the raw weights, or none when the run averaged nothing so far — then the
        average starts from the weights the model holds."""
        raw = {k[len(RAW):]: v for k, v in tensors.items() if k.startswith(RAW)}
        with torch.no_grad():
            for n, p in self.params.items():
                self.shadow[n].copy_(p.detach())
        if raw:
            missing = sorted(set(self.params) - set(raw))
            if missing:
                raise InterMaskError(f"The training state holds no raw weights for {missing[:3]}: it was saved by "
                                     "another model.")
            self._copy(raw)

    @torch.no_grad()
    def _copy(self, source: dict[str, torch.Tensor]) -> None:
        for n, p in self.params.items():
            p.copy_(source[n])
