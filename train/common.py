"""Shared pieces of the training scripts: options, optimiser and schedule, logging, checkpoints, the step loop."""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch

from intermask import config as C
from intermask.errors import InterMaskError

DATASETS = ("interhuman", "interx")
REPO_ROOT = Path(__file__).resolve().parents[1]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("run")
    g.add_argument("--config", default="tiny", help="tiny | paper | path to a config.json (default: tiny)")
    g.add_argument("--out", required=True, help="output directory (checkpoints latest/ and best/, log.jsonl)")
    g.add_argument("--max-steps", type=int, default=None, help="optimiser steps (overrides --epochs)")
    g.add_argument("--stop-at", type=int, default=None,
                   help="stop (and write OUT/latest) after this global step; the LR schedule still spans the whole "
                        "run, so a later --resume continues the same trajectory")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--resume", nargs="?", const="latest", default=None,
                   help="continue from OUT/latest (or the given checkpoint directory)")
    g.add_argument("--eval-every", type=int, default=0, help="validate every N steps (0: at the end only)")
    g.add_argument("--val-batches", type=int, default=8, help="validation batches per evaluation")
    g.add_argument("--save-every", type=int, default=500, help="write OUT/latest every N steps")
    g.add_argument("--log-every", type=int, default=10)
    g.add_argument("--num-workers", type=int, default=0, help="DataLoader workers per process")
    g.add_argument("--threads", type=int, default=0, help="torch threads per process (0: cores / processes)")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--wandb", action="store_true", help="log to Weights & Biases (key from WANDB_API_KEY)")
    g.add_argument("--wandb-project", default="intermask")
    g.add_argument("--wandb-name", default=None)
    g.add_argument("--tensorboard", action="store_true", help="also write TensorBoard events to OUT/tb")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def add_config_arguments(parser: argparse.ArgumentParser, model_cls, part: str) -> None:
    """Flags for the ``part`` ("vq" | "transformer") network, its training settings, data and text encoder; help
    shows the tiny preset's values."""
    C.add_dataclass_arguments(parser, model_cls)
    C.add_dataclass_arguments(parser, C.TrainConfig, defaults_from=getattr(C.tiny(), f"{part}_training"))
    # (the order of the two persons means nothing to a VQ, which sees one person at a time)
    person_order = ("person_order_words", "actor_first", "oversample") if part == "transformer" else ()
    C.add_dataclass_arguments(parser, C.DataConfig,
                              only=("dataset", "data_root", "max_frames", "min_frames", *person_order))
    C.add_dataclass_arguments(parser, C.TextConfig, prefix="text_")


def resolve_config(args: argparse.Namespace, part: str) -> C.ModelConfig:
    """The preset or file named by --config, with every flag the user gave applied."""
    import dataclasses

    cfg = C.resolve_model_config(args.config)
    training = f"{part}_training"
    cfg = dataclasses.replace(cfg, **{part: C.apply_arguments(getattr(cfg, part), args),
                                      training: C.apply_arguments(getattr(cfg, training), args)},
                              data=C.apply_arguments(cfg.data, args),
                              text=C.apply_arguments(cfg.text, args, prefix="text_"))
    if cfg.data.dataset not in DATASETS:
        raise InterMaskError(f"--dataset must be one of {DATASETS}; got {cfg.data.dataset!r}.")
    if cfg.data.dataset == "interx":
        raise InterMaskError("Training on Inter-X needs the 56-row SMPL-X VQ variant, which this version does not "
                             "implement yet; use an InterHuman-layout data set (InterHuman or InterSynth).")
    if not cfg.data.data_root:
        raise InterMaskError("--data-root is required: the directory of an InterHuman-layout data set.")
    if not Path(cfg.data.data_root).is_dir():
        raise InterMaskError(f"--data-root {cfg.data.data_root} is not a directory.")
    return cfg


def set_threads(args: argparse.Namespace, world_size: int) -> None:
    # Oversubscribed OpenMP threads spin against each other; one process per core is much faster on a
    # small CPU than two processes with two threads each.
    n = args.threads or max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", world_size))))
    torch.set_num_threads(n)


def lr_at(step: int, base: float, warmup: int, total: int, milestones: Iterable[float], gamma: float) -> float:
    """Linear warm-up, then multi-step decay at fractions of ``total`` (a pure function of the step)."""
    if step < warmup:
        return base * (step + 1) / (warmup + 1)
    passed = sum(step >= int(m * total) for m in milestones)
    return base * gamma ** passed


@dataclass
class Schedule:
    """How long a run is and its learning rate at each step, from its TrainConfig and batch plan."""
    train: C.TrainConfig
    total: int  # planned optimiser steps (the LR schedule spans them even when --stop-at ends a run early)
    warmup: int

    @classmethod
    def plan(cls, train: C.TrainConfig, args: argparse.Namespace, steps_per_epoch: int) -> "Schedule":
        total = args.max_steps or train.epochs * steps_per_epoch
        warmup = train.warmup_steps if train.warmup_steps >= 0 else steps_per_epoch // 4
        return cls(train, total, warmup)

    def lr(self, step: int) -> float:
        t = self.train
        return lr_at(step, t.lr, self.warmup, self.total, t.lr_milestones, t.lr_gamma)


def optimizer(params: list[torch.nn.Parameter], train: C.TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=train.lr, betas=tuple(train.betas), weight_decay=train.weight_decay)


@dataclass
class Logger:
    """JSONL always (rank 0); TensorBoard and WandB when asked."""
    path: Path
    enabled: bool
    tb: object = None
    wandb: object = None
    history: list = field(default_factory=list)

    def log(self, step: int, record: dict) -> None:
        if not self.enabled:
            return
        rec = {"step": step, "time": round(time.time(), 3), **{k: _num(v) for k, v in record.items()}}
        with self.path.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        if self.tb is not None:
            for k, v in rec.items():
                if isinstance(v, (int, float)) and k not in ("step", "time"):
                    self.tb.add_scalar(k, v, step)
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in rec.items() if k != "time"}, step=step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def _num(v):
    if torch.is_tensor(v):
        v = v.detach().float().item()
    return round(v, 6) if isinstance(v, float) and math.isfinite(v) else v


def _network_reachable(host: str = "api.wandb.ai", port: int = 443, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def make_logger(args: argparse.Namespace, out: Path, is_main: bool, run_config: dict) -> Logger:
    logger = Logger(out / "log.jsonl", is_main)
    if not is_main:
        return logger
    if args.tensorboard:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise InterMaskError("--tensorboard needs the tensorboard package: pip install tensorboard.") from None
        logger.tb = SummaryWriter(str(out / "tb"))
    if args.wandb:
        try:
            import wandb
        except ImportError:
            raise InterMaskError("--wandb needs the wandb package: pip install wandb (the API key is read from "
                                 "WANDB_API_KEY).") from None
        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") and
                                                 _network_reachable() else "offline")
        logger.wandb = wandb.init(project=args.wandb_project, name=args.wandb_name or out.name, mode=mode,
                                  config=run_config, dir=str(out))
    return logger


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in [sys.executable.split("/")[-1]] + sys.argv)


def card_text(kind: str, cfg: C.ModelConfig, *, step: int, total_steps: int, global_batch: int, world: int,
              wall: float, train_items: int, metrics: dict) -> str:
    lines = [
        f"# {cfg.name} {kind} checkpoint", "",
        "## Training", "",
        f"- data: {cfg.data.dataset} layout at `{cfg.data.data_root}`, {train_items} training items",
        f"- steps: {step} of {total_steps}, global batch {global_batch}, {world} process(es)",
        f"- wall time: {wall / 60:.1f} min",
        f"- text encoder: {cfg.text.encoder}",
        f"- command: `{command_line()}`", "",
        "## Validation at save time", "",
    ]
    lines += [f"- {k}: {v:.5g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in sorted(metrics.items())]
    lines += ["", "## Metrics", "", "Not evaluated yet (filled by the evaluation script).", ""]
    return "\n".join(lines)


def progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, dynamic_ncols=True)


def iterate_steps(plan, dataset, start_step: int, total_steps: int, collate: Callable | None, num_workers: int):
    """Yield (global step, epoch, local batch) from ``start_step`` on, epoch after epoch, resumable mid-epoch."""
    from torch.utils.data import DataLoader

    step = start_step
    while step < total_steps:
        epoch, k = divmod(step, plan.steps_per_epoch)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        batches = plan.epoch_batches(epoch, k)[: total_steps - step]
        loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate, num_workers=num_workers)
        for batch in loader:
            yield step, epoch, batch
            step += 1


def end_step(args: argparse.Namespace, total: int) -> int:
    return min(total, args.stop_at) if args.stop_at else total


def resume_dir(args: argparse.Namespace, out: Path, say: bool = True) -> Path | None:
    """The checkpoint to continue from, or None for a new run (``say``: print which, when both flags are given).

    ``--resume`` with ``--init-from`` means: continue this run if it has written a checkpoint, else start it from
    the ``--init-from`` weights. The command that starts a long run, plus ``--resume``, then also restarts it
    wherever it stopped (even before its first save). Whichever applies, ``args`` is left saying only that.
    """
    if args.resume is None:
        return None
    path = out / "latest" if args.resume == "latest" else Path(args.resume)
    found, init = (path / "config.json").exists(), getattr(args, "init_from", None)
    if init is None:
        if not found:
            raise InterMaskError(f"--resume: {path} is not a checkpoint directory written by training.")
        return path
    if say:
        print(f"--resume: continuing from {path} (--init-from {init} was this run's start)" if found else
              f"--resume: {path} has no checkpoint yet, so the run starts from --init-from {init}", flush=True)
    if found:
        args.init_from = None
        return path
    args.resume = None
    return None


def resumed_config(resume: Path | None, given: C.ModelConfig) -> C.ModelConfig:
    """The architecture saved in the checkpoint being resumed, with this command line's data, text and training
    settings (a checkpoint written before training settings were recorded has none to offer)."""
    if resume is None:
        return given
    import dataclasses

    from intermask.checkpoint import read_config

    return dataclasses.replace(read_config(resume)[0], data=given.data, text=given.text,
                               vq_training=given.vq_training, transformer_training=given.transformer_training)


def add_init_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--init-from", default=None,
                        help=f"start from the weights of this {what} checkpoint (fresh optimiser, step 0; its "
                             f"architecture is used, changed only by {what} flags given here)")
    parser.add_argument("--reinit", nargs="+", default=(), metavar="PREFIX",
                        help="with --init-from: parameters whose names start with PREFIX keep this run's fresh "
                             "initialisation instead of the checkpoint's (e.g. person_emb with "
                             "--person-embedding-init)")


def init_dir(args: argparse.Namespace) -> Path | None:
    """The checkpoint named by --init-from (weights only), checked; None without the flag."""
    path = getattr(args, "init_from", None)
    if path is None:
        return None
    path = Path(path)
    if not (path / "config.json").exists() or not (path / "model.safetensors").exists():
        raise InterMaskError(f"--init-from: {path} is not a checkpoint directory (config.json and "
                             "model.safetensors).")
    return path


def initial_config(args: argparse.Namespace, resume: Path | None, given: C.ModelConfig, part: str
                   ) -> C.ModelConfig:
    """The configuration a run starts with: a resumed run's saved architecture; with --init-from that
    checkpoint's architecture plus any ``part`` flags given on this command line (e.g. a part to grow)."""
    import dataclasses

    start = resume or init_dir(args)
    cfg = resumed_config(start, given)
    if resume is None and start is not None:
        cfg = dataclasses.replace(cfg, **{part: C.apply_arguments(getattr(cfg, part), args)})
    return cfg


def widened(old: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """``old`` in the leading block of the larger ``fresh`` (a newly initialised weight), so that the layer still
    computes exactly what it did on the old channels.

    Dimension 0 of a weight is its output channels and dimension 1 its inputs (Linear and Conv alike). New output
    channels keep their fresh initialisation; old outputs must not read new inputs, so that block is zero. Every
    old channel of every layer then holds what it held before, and so does the output: training starts from the
    old network's function and the new channels join in as their outgoing weights grow from zero.
    """
    if old.dim() != fresh.dim() or any(o > f for o, f in zip(old.shape, fresh.shape)):
        raise InterMaskError(f"cannot widen a {tuple(old.shape)} weight to {tuple(fresh.shape)}")
    out = fresh.detach().clone()
    out[tuple(slice(0, n) for n in old.shape)] = old
    if out.dim() >= 2:
        out[:old.shape[0], old.shape[1]:] = 0
    return out


def init_weights(args: argparse.Namespace, model) -> None:
    """Load --init-from weights into ``model``. Every weight must match, except parameters the model declares
    grown (``grown_parameters()``): absent ones keep the model's own initialisation (zero, unless a flag such as
    ``--person-embedding-init`` says otherwise; e.g. ``--static-words`` on an older checkpoint, or the blocks a
    larger ``--n-layers`` appends to a transformer, which start as the identity), narrower ones are
    widened without changing what the network computes (:func:`widened`, e.g. ``--decoder-width`` on a VQ).
    ``--reinit PREFIX`` drops matching tensors from the checkpoint so that they keep this model's initialisation
    too."""
    path = init_dir(args)
    if path is None:
        return
    from safetensors.torch import load_file

    state = load_file(str(path / "model.safetensors"))
    current = model.state_dict()
    reinit = tuple(getattr(args, "reinit", ()))
    fresh = [k for k in current if k.startswith(reinit)] if reinit else []
    if reinit and not fresh:
        raise InterMaskError(f"--reinit {' '.join(reinit)}: this model has no such parameters.")
    for k in fresh:
        state.pop(k, None)
    state = model.grown_state(state)  # e.g. a deeper transformer (--n-layers) adapts the shallower weights
    growable = model.grown_parameters(state.keys())
    grown = [k for k, v in state.items() if k.startswith(growable) and k in current
             and v.shape != current[k].shape]
    for k in grown:
        state[k] = widened(state[k], current[k])
    if grown:
        print(f"--init-from {path}: {len(grown)} tensors widened", flush=True)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes differ: torch lists every tensor; the first one says enough
        lines = [x.strip() for x in str(exc).splitlines() if "size mismatch" in x]
        raise InterMaskError(f"--init-from {path} does not fit this model: {lines[0] if lines else exc}") from None
    new = [k for k in missing if k.startswith(growable) and k not in fresh]
    missing = [k for k in missing if k not in new and k not in fresh]
    if new:
        shown = ", ".join(new[:6]) + (f", … ({len(new) - 6} more)" if len(new) > 6 else "")
        print(f"--init-from {path}: {len(new)} new tensors, initialised as the model builds them ({shown})",
              flush=True)
    if fresh:
        print(f"--init-from {path}: {len(fresh)} tensors re-initialised ({', '.join(fresh)})", flush=True)
    if missing or unexpected:
        raise InterMaskError(f"--init-from {path} does not fit this model: missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}.")


def open_run(args: argparse.Namespace, d) -> tuple[Path, Path | None]:
    """Threads, the output directory (made by rank 0) and the checkpoint to resume from, if any."""
    set_threads(args, d.world_size)
    out = Path(args.out)
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
    d.barrier()
    return out, resume_dir(args, out, say=d.is_main)


def seeded(seed: int, build: Callable):
    """``build()`` with torch's RNG seeded, leaving the global RNG state as it was (weights drawn from --seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def restore(resume: Path | None, model: torch.nn.Module, opt: torch.optim.Optimizer) -> tuple[int, float]:
    """Load weights and optimiser state from a training checkpoint → (step reached, best validation loss)."""
    if resume is None:
        return 0, math.inf
    from safetensors.torch import load_file

    from intermask.checkpoint import load_train_state

    model.load_state_dict(load_file(str(resume / "model.safetensors")))
    opt_state, meta = load_train_state(resume)
    opt.load_state_dict(opt_state)
    return int(meta["step"]), float(meta.get("best", math.inf))


def validation_plan(n_items: int, global_batch: int, d, lengths: list[int] | None = None):
    """Fixed (unshuffled) validation batches split over the ranks like training batches; None if too few items."""
    from train.distributed import GlobalBatchPlan

    batch = min(global_batch, (n_items // d.world_size) * d.world_size)
    return (GlobalBatchPlan(n_items, batch, d.world_size, d.rank, 0, shuffle=False, lengths=lengths)
            if batch > 0 else None)


@dataclass
class Checkpoints:
    """What happens after each optimiser step: validation, OUT/best on a new low, OUT/latest at intervals.

    ``save(path, step, train_state)`` writes a checkpoint; ``train_state`` is None for OUT/best (weights only)
    and the resumable {step, best, seed} for OUT/latest.
    """
    args: argparse.Namespace
    d: object
    out: Path
    logger: Logger
    save: Callable[[Path, int, dict | None], None]
    best: float = math.inf
    probe: Callable[[], dict] | None = None  # rank 0's probe; when given, best/ follows −probe_score, not val_loss
    metrics: dict = field(default_factory=dict)

    def after_step(self, done: int, end: int, validate: Callable[[], dict] | None) -> None:
        a = self.args
        probing = bool(getattr(a, "probe_every", 0))
        if validate is not None and ((a.eval_every and done % a.eval_every == 0) or done == end):
            found = validate()
            self.metrics = {**self.metrics, **found}  # the card shows the latest of each
            self.logger.log(done, found)  # the log only what was measured now (not an earlier probe's numbers)
            if not probing and self.metrics["val_loss"] < self.best:
                self.best = self.metrics["val_loss"]
                if self.d.is_main:
                    self.save(self.out / "best", done, None)
        if probing and (done % a.probe_every == 0 or done == end):
            found = self.probe() if self.probe is not None else {}
            # Every rank takes the same decision: the score is summed from rank 0 alone.
            score = self.d.sum_scalars({"s": found.get("probe_score", 0.0)})["s"]
            self.metrics = {**self.metrics, **found}
            self.logger.log(done, found)
            if -score < self.best:
                self.best = -score
                if self.d.is_main:
                    self.save(self.out / "best", done, None)
        if done % a.save_every == 0 or done == end:
            if self.d.is_main:
                self.save(self.out / "latest", done, {"step": done, "best": self.best, "seed": a.seed})
            self.d.barrier()


@dataclass
class StepOutput:
    """What one training step hands back to :func:`train_steps`."""
    loss: torch.Tensor  # backward() runs on this: the process's share of the global-batch loss
    logged: dict  # averaged over the logging window and the processes
    last: dict = field(default_factory=dict)  # logged as the last step's value (perplexity, token length, ...)
    shown: dict = field(default_factory=dict)  # progress-bar postfix


def train_steps(args: argparse.Namespace, d, plan, dataset, collate: Callable | None, schedule: Schedule,
                params: list[torch.nn.Parameter], opt: torch.optim.Optimizer,
                step: Callable[[int, object], StepOutput], logger: Logger, ckpt: Checkpoints,
                validation: Callable[[], dict] | None, start: int, end: int, average=None) -> int:
    """The optimiser loop the VQ and transformer scripts share; returns the last step done.

    Per global step: set the scheduled LR, run ``step`` on this process's batch, back-propagate, sum the
    gradients over the processes, clip, update (and the weight ``average``, a :class:`train.average.WeightAverage`,
    when given); then log every ``--log-every`` steps and let ``ckpt`` validate, probe and save.
    """
    bar = progress(end, start, d.is_main and not args.no_progress)
    t0, window, n = time.time(), {}, 0
    done = start
    for k, epoch, batch in iterate_steps(plan, dataset, start, end, collate, args.num_workers):
        lr = schedule.lr(k)
        for g in opt.param_groups:
            g["lr"] = lr
        out = step(k, batch)
        out.loss.backward()
        d.sum_gradients(params)
        if schedule.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, schedule.train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        done = k + 1
        if average is not None:
            average.update(done)
        for name, value in out.logged.items():
            window[name] = window.get(name, 0.0) + float(value.detach() if torch.is_tensor(value) else value)
        n += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(**out.shown)
        if done % args.log_every == 0 or done == end:
            rec = {name: v / (n * d.world_size) for name, v in d.sum_scalars(window).items()}
            logger.log(done, {**rec, "epoch": epoch, "lr": lr, **out.last, "wall": round(time.time() - t0, 1)})
            window, n = {}, 0
        ckpt.after_step(done, end, validation)
    if bar is not None:
        bar.close()
    return done
