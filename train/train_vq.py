#!/usr/bin/env python
"""Train the 2D VQ-VAE on single-person windows of an InterHuman-layout data set.

    python train/train_vq.py --config tiny --data-root data/intersynth --out runs/vq
    torchrun --nproc_per_node=2 train/train_vq.py --config tiny --data-root data/intersynth --out runs/vq

N processes with the same --batch-size (the global batch) give the same model as one process
(train/distributed.py). Writes OUT/latest (resumable), OUT/best (lowest validation loss) and OUT/log.jsonl.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python train/train_vq.py` from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from intermask import config as C
from intermask.errors import InterMaskError
from train import common
from train.distributed import GlobalBatchPlan, batch_keys, process_group


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_arguments(parser)
    common.add_init_argument(parser, "vq")
    common.add_config_arguments(parser, C.VQConfig, "vq")
    parser.add_argument("--decoder-only", action="store_true",
                        help="train the decoder only (with --init-from, e.g. after --decoder-width): the encoder and "
                             "codebook stay fixed, so every token id, token cache and transformer stays valid")
    return parser


def _normalizer(cfg: C.ModelConfig, out: Path, start: Path | None, d):
    from intermask.data.interhuman import compute_stats
    from intermask.motion.normalize import Normalizer

    if start is not None:  # a resumed run, or weights to start from: their codes mean features under these stats
        return Normalizer.load(start / "stats.npz")
    path = out / "stats.npz"
    if d.is_main and not path.exists():
        compute_stats(cfg.data.data_root).save(path)
    d.barrier()
    return Normalizer.load(path)


def _inputs(batch, device) -> tuple:
    """A batch of windows, or of (windows, touch weights) when the touch term is on → the VQ's arguments."""
    if isinstance(batch, (list, tuple)):
        return tuple(b.to(device) for b in batch)
    return (batch.to(device),)


@torch.no_grad()
def validate(model, val_set, plan, d, max_batches: int) -> dict[str, float]:
    from torch.utils.data import DataLoader

    model.eval()
    sums: dict[str, float] = {}
    batches = plan.epoch_batches(0)[:max_batches]
    for batch in DataLoader(val_set, batch_sampler=batches):
        out = model(*_inputs(batch, d.device))
        for k, v in out.items():
            if k.startswith("loss"):
                sums["val_" + k] = sums.get("val_" + k, 0.0) + float(v)
    sums = d.sum_scalars(sums)  # each term's mean over the processes is its global value
    model.train()
    return {k: v / (max(1, len(batches)) * d.world_size) for k, v in sums.items()}


def run(args: argparse.Namespace) -> dict:
    from intermask.checkpoint import save_checkpoint
    from intermask.data.interhuman import InterHumanWindows
    from intermask.models import keyed_random as kr
    from intermask.models.collective import LOCAL
    from intermask.models.vqvae import VQVAE

    with process_group(args.device) as d:
        out, resume = common.open_run(args, d)
        cfg = common.initial_config(args, resume, common.resolve_config(args, "vq"), "vq")
        norm = _normalizer(cfg, out, resume or common.init_dir(args), d)
        root = cfg.data.data_root
        touch = cfg.vq.touch > 0
        train_set = InterHumanWindows(root, "train", norm, cfg.vq.window_size, cfg.vq.window_stride, touch=touch)
        try:
            val_set = InterHumanWindows(root, "val", norm, cfg.vq.window_size, cfg.vq.window_stride, touch=touch)
        except InterMaskError:
            val_set = None
        train = cfg.vq_training
        if train.ema_decay:
            # The codebook is a buffer the quantiser updates itself; averaging the weights around it would pair
            # an averaged encoder with codes it never produced.
            raise InterMaskError("--ema-decay averages transformer weights; the VQ-VAE keeps its own (give 0).")
        plan = GlobalBatchPlan(len(train_set), train.batch_size, d.world_size, d.rank, args.seed)
        val_plan = common.validation_plan(len(val_set), train.batch_size, d) if val_set is not None else None
        schedule = common.Schedule.plan(train, args, plan.steps_per_epoch)

        model = common.seeded(args.seed, lambda: VQVAE(cfg.vq, norm.mean, norm.std).to(d.device))
        common.init_weights(args, model)
        if args.decoder_only:
            if resume is None and common.init_dir(args) is None:
                raise InterMaskError("--decoder-only trains a decoder for existing codes: give --init-from (or "
                                     "--resume) a trained VQ.")
            model.freeze_codes()
        model.set_collective(d.collective or LOCAL)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = common.optimizer(params, train)
        start, best = common.restore(resume, model, opt)

        logger = common.make_logger(args, out, d.is_main, {"config": C.to_dict(cfg), "world_size": d.world_size})
        end = common.end_step(args, schedule.total)
        t0 = time.time()

        def save(path: Path, step: int, train_state: dict | None) -> None:
            card = common.card_text("vq", cfg, step=step, total_steps=schedule.total, global_batch=train.batch_size,
                                    world=d.world_size, wall=time.time() - t0, train_items=len(train_set),
                                    metrics=ckpt.metrics)
            save_checkpoint(path, model, cfg, "vq", norm, card=card, optimizer=opt if train_state else None,
                            train_state=train_state)

        def step(k: int, batch) -> common.StepOutput:
            with kr.scope(batch_keys(args.seed, k, plan).to(d.device)):
                res = model(*_inputs(batch, d.device))
            # Gradients are summed over processes and every term averages to its global value: divide here.
            loss, ppl = float(res["loss"].detach()), float(res["perplexity"])
            return common.StepOutput(res["loss"] / d.world_size,
                                     logged={name: v for name, v in res.items() if name.startswith("loss")},
                                     last={"perplexity": ppl}, shown={"loss": f"{loss:.4f}", "ppl": f"{ppl:.0f}"})

        ckpt = common.Checkpoints(args, d, out, logger, save, best)
        validation = (lambda: validate(model, val_set, val_plan, d, args.val_batches)) if val_plan else None
        model.train()
        done = common.train_steps(args, d, plan, train_set, None, schedule, params, opt, step, logger, ckpt,
                                  validation, start, end)
        logger.close()
        return {"step": done, "best": ckpt.best, **ckpt.metrics}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
