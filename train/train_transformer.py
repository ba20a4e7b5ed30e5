#!/usr/bin/env python
"""Train the Inter-M transformer on token maps of a trained VQ-VAE.

    python train/train_transformer.py --config tiny --vq runs/vq/best --data-root data/intersynth --out runs/t2m
    torchrun --nproc_per_node=2 train/train_transformer.py --vq runs/vq/best --data-root ... --out runs/t2m

Training items are whole clips (up to --max-frames), tokenised once by the frozen VQ into OUT/tokens_<split>
(train/tokens.py; --token-cache DIR reads an earlier run's instead, --reuse-tokens DIR copies the clips its caches
hold) and batched by length; the frozen text encoder runs once per unique description (a cache, warmed before the
first step). --probe-every N generates validation clips every N steps and keeps as best/ the checkpoint with the
highest probe score (train/probe.py); without it, best/ has the lowest validation loss.
N processes with the same --batch-size give the model of one process.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from intermask import config as C
from intermask.errors import InterMaskError
from train import common
from train.distributed import GlobalBatchPlan, batch_keys, process_group

VAL_SEED = 0x7A1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_arguments(parser)
    parser.add_argument("--vq", required=True, help="VQ-VAE checkpoint directory (e.g. runs/vq/best)")
    common.add_init_argument(parser, "transformer")
    parser.add_argument("--tokenize-only", action="store_true",
                        help="write OUT/tokens_<split>.safetensors with this VQ and stop (what train/remap.py reads "
                             "as --new-tokens before the run that starts from the remapped model)")
    parser.add_argument("--token-cache", default=None, metavar="DIR",
                        help="folder of the token caches (default: OUT); give an earlier run's to reuse its tokens "
                             "(same VQ, data root and --max-frames), which it never overwrites")
    parser.add_argument("--reuse-tokens", nargs="+", default=(), metavar="DIR",
                        help="when a cache must be built, copy the codes of clips (by id) that these runs' caches "
                             "already hold (same VQ and --max-frames) instead of encoding them: e.g. the run on "
                             "data a union (train/union.py) extends, so only the new clips are tokenised")
    g = parser.add_argument_group("probe")
    g.add_argument("--probe-every", type=int, default=0,
                   help="generate and score validation clips every N steps (0: never); best/ then follows the score")
    g.add_argument("--probe-clips", type=int, default=64)
    g.add_argument("--evaluator", default=None,
                   help="evaluator checkpoint for the probe (default: checkpoints/intersynth/evaluator)")
    common.add_config_arguments(parser, C.TransformerConfig, "transformer")
    return parser


def text_cache(cfg: C.ModelConfig, datasets, out: Path, d, progress: bool = False):
    """A per-unique-text feature cache filled on rank 0 and shared through a file, so all ranks hold equal bits."""
    from intermask.data.person_order import swap_person_order
    from intermask.text import load_text_encoder
    from intermask.text.cache import TextFeatureCache

    cache = TextFeatureCache(load_text_encoder(cfg.text))
    path = out / f"text_cache_{cfg.text.encoder}.safetensors"
    if d.is_main:
        if path.exists():
            cache.load(path)
        texts = {t for ds in datasets if ds is not None for i in range(len(ds)) for t in ds.descriptions(i)}
        texts |= {t.strip() for t in texts}
        if cfg.data.person_order_words or cfg.transformer.person_words:
            texts |= {swap_person_order(t) for t in texts}
        t0 = time.time()
        cache.warm(sorted(texts), progress)
        print(f"text features of {len(texts)} descriptions ({cfg.text.encoder}) ready in {time.time() - t0:.0f} s",
              flush=True)
        cache.save(path)
    d.barrier()
    if not d.is_main:
        cache.load(path)
    return cache


def token_sets(cfg: C.ModelConfig, vq, norm, out: Path, d, seed: int, progress: bool, shared: bool = False,
               donors=()):
    """Training and validation items of whole-clip token maps, tokenised once (every rank a share) and shared by
    file in ``out``; a ``shared`` folder (another run's) is read, and written only where a cache is missing.
    ``donors`` are run folders whose caches give the codes of the clips they hold (``--reuse-tokens``)."""
    from intermask.data.interhuman import InterHumanDataset
    from train import tokens as tk

    dc = cfg.data
    oversample = tk.parse_oversample(dc.oversample)  # a typo fails here, before minutes of tokenising
    missing = [str(r) for r in donors if not Path(r).is_dir()]
    if missing:
        raise InterMaskError(f"--reuse-tokens: no such run folder: {', '.join(missing)}.")
    fingerprint = tk.vq_fingerprint(vq)
    sets = []
    for split in ("train", "val"):
        try:
            # Items need only ids, texts and labels; tokenising reads the motion clip by clip (all of it cached,
            # a process of a 2-process run held 12 GB for InterSynth's training split).
            ds = InterHumanDataset(dc.data_root, split, None, dc.max_frames, dc.min_frames,
                                   mirror=split == "train", seed=seed, cache=False)
        except InterMaskError:
            if split == "train":
                raise
            sets.append(None)
            continue
        path = out / f"tokens_{split}.safetensors"
        arrays = tk.load_or_build(path, ds, vq, norm, dc.max_frames, fingerprint, build=False)
        if arrays is None and shared and path.exists():
            raise InterMaskError(f"The token cache {path} was made with another VQ, data root or --max-frames; give "
                                 "--token-cache a folder of its own (or none) instead of rebuilding another run's.")
        if arrays is None:  # every rank sees the same file, so all of them build it together
            if d.is_main:  # (said even without a bar: on a CPU this takes long, once per VQ and clip list)
                print(f"tokenising the {split} split of {dc.data_root} ({len(ds.ids)} clips and their mirror images) "
                      f"into {path}", flush=True)
            t0 = time.time()
            given = [f for f in (Path(r) / path.name for r in donors) if f.exists()]
            copied = tk.build_shared(path, ds, vq, norm, dc.max_frames, fingerprint, d, progress, donors=given)
            if d.is_main:
                reused = f" ({copied} clips copied from {', '.join(map(str, given))})" if given else ""
                print(f"tokenised the {split} split in {(time.time() - t0) / 60:.1f} min{reused}", flush=True)
            arrays = tk.load_or_build(path, ds, vq, norm, dc.max_frames, fingerprint, build=False)
        if arrays is None:
            raise InterMaskError(f"The token cache {path} does not match the {split} split of {dc.data_root}; "
                                 "delete it to rebuild it.")
        # Validation stays unweighted, so its loss compares with runs trained without the touch weights.
        touch = (tk.touch_by_token(ds, dc.max_frames, vq.frames_per_token, progress)
                 if split == "train" and cfg.transformer.touch_weight > 0 else None)
        sets.append(tk.TokenSet(ds, arrays, seed=seed, mirror=split == "train", augment=split == "train",
                                person_order_words=dc.person_order_words, actor_first=dc.actor_first,
                                oversample=oversample if split == "train" else None, touch=touch))
    return sets


def step_inputs(batch: dict, cache, device, pad_to: int, person_words: bool = False):
    """(codes padded to ``pad_to`` time tokens, token lengths, text features, touch weights padded alike or None)
    on ``device``."""
    from intermask.data.person_order import person_views

    text = cache.get(batch["text"])
    if person_words:
        text = person_views(text, list(batch["text"]), cache.get)
    text = text.to(device)
    codes = batch["codes"]
    pad = (0, pad_to - codes.shape[-1])
    touch = torch.nn.functional.pad(batch["touch"], pad).to(device) if "touch" in batch else None
    return torch.nn.functional.pad(codes, pad).to(device), batch["tokens"].to(device), text, touch


@torch.no_grad()
def validate(model, cache, val_set, plan, d, max_batches: int) -> dict[str, float]:
    from torch.utils.data import DataLoader

    from intermask.models.keyed_random import sample_keys
    from train.tokens import collate

    model.eval()
    sums: dict[str, float] = {}
    batches = plan.epoch_batches(0)[:max_batches]
    for k, batch in enumerate(DataLoader(val_set, batch_sampler=batches, collate_fn=collate)):
        ids, tl, text, _ = step_inputs(batch, cache, d.device, plan.padded_length(k), model.cfg.person_words)
        keys = sample_keys(VAL_SEED, k, list(plan.local_positions())).to(d.device)
        res = model.training_loss(ids, tl, text, keys)
        # The loss is this process's share of the global mean (summed over processes it is the global value);
        # the accuracy is already global on every process, so it is counted on rank 0 only.
        sums["val_loss"] = sums.get("val_loss", 0.0) + float(res["loss"])
        sums["val_acc"] = sums.get("val_acc", 0.0) + (float(res["acc"]) if d.is_main else 0.0)
    sums = d.sum_scalars(sums) if d.enabled else sums
    model.train()
    return {k: v / max(1, len(batches)) for k, v in sums.items()}


def weight_average(model, decay: float, resume: Path | None):
    """The run's :class:`WeightAverage` (None with ``decay`` 0), continued from ``resume``'s state if given."""
    from intermask.checkpoint import load_train_tensors
    from train.average import RAW, WeightAverage

    saved = load_train_tensors(resume) if resume is not None else {}
    if not decay:
        if any(k.startswith(RAW) for k in saved):
            raise InterMaskError(f"{resume} belongs to a run that averages its weights (its model.safetensors is "
                                 "the average): resume it with the same --ema-decay.")
        return None
    average = WeightAverage(model, decay)
    if resume is not None:
        average.resume(saved)
    return average


def run(args: argparse.Namespace) -> dict:
    from intermask.checkpoint import load_vq, save_checkpoint
    from intermask.models.collective import LOCAL
    from intermask.models.transformer import InterMTransformer
    from train.tokens import collate

    with process_group(args.device) as d:
        out, resume = common.open_run(args, d)
        cfg = common.initial_config(args, resume, common.resolve_config(args, "transformer"), "transformer")
        vq, vq_cfg, norm = load_vq(args.vq, d.device)
        cfg = dataclasses.replace(cfg, vq=vq_cfg.vq)
        if cfg.transformer.person_words and not cfg.data.person_order_words:
            raise InterMaskError("--person-words needs --person-order-words: training swaps the persons at random, "
                                 "and the words that name them must swap with them.")
        show = d.is_main and not args.no_progress
        tokens = Path(args.token_cache) if args.token_cache else out
        tokens.mkdir(parents=True, exist_ok=True)
        train_set, val_set = token_sets(cfg, vq, norm, tokens, d, args.seed, show, shared=tokens != out,
                                        donors=args.reuse_tokens)
        if args.tokenize_only:
            return {"step": 0, "tokens": sorted(str(f) for f in tokens.glob("tokens_*.safetensors"))}
        cache = text_cache(cfg, [s.dataset for s in (train_set, val_set) if s is not None], out, d, show)
        train = cfg.transformer_training
        plan = GlobalBatchPlan(len(train_set), train.batch_size, d.world_size, d.rank, args.seed,
                               lengths=train_set.lengths())
        val_plan = (common.validation_plan(len(val_set), train.batch_size, d, val_set.lengths())
                    if val_set is not None else None)
        schedule = common.Schedule.plan(train, args, plan.steps_per_epoch)

        model = common.seeded(args.seed, lambda: InterMTransformer(cfg.transformer, vq.nb_code, cache.encoder.dim,
                                                                   groups=vq.groups,
                                                                   frames_per_token=vq.frames_per_token).to(d.device))
        common.init_weights(args, model)
        model.set_collective(d.collective or LOCAL)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = common.optimizer(params, train)
        start, best = common.restore(resume, model, opt)
        average = weight_average(model, train.ema_decay, resume)

        logger = common.make_logger(args, out, d.is_main, {"config": C.to_dict(cfg), "world_size": d.world_size})
        end = common.end_step(args, schedule.total)
        t0 = time.time()

        def averaged():
            """Validation, probe and checkpoints see the averaged weights when the run keeps an average."""
            return average.applied() if average is not None else contextlib.nullcontext()

        def save(path: Path, step: int, train_state: dict | None) -> None:
            card = common.card_text("transformer", cfg, step=step, total_steps=schedule.total,
                                    global_batch=train.batch_size, world=d.world_size, wall=time.time() - t0,
                                    train_items=len(train_set), metrics=ckpt.metrics)
            raw = average.raw_tensors() if average is not None and train_state else None
            with averaged():
                save_checkpoint(path, model, cfg, "transformer", norm, text_dim=cache.encoder.dim, vq_dir=args.vq,
                                card=card, optimizer=opt if train_state else None, train_state=train_state,
                                train_tensors=raw)

        def step(k: int, batch) -> common.StepOutput:
            ids, tl, text, touch = step_inputs(batch, cache, d.device, plan.padded_length(k),
                                               cfg.transformer.person_words)
            res = model.training_loss(ids, tl, text, batch_keys(args.seed, k, plan).to(d.device), touch)
            # res["loss"] is this process's share of the global mean (normalised by the all-reduced count), so
            # world_size times it estimates the global loss as logging expects; acc is already global.
            loss = res["loss"].detach() * d.world_size
            acc = float(res["acc"])
            return common.StepOutput(res["loss"], logged={"loss": loss, "acc": acc,
                                                          "interaction_frac": res["interaction_frac"]},
                                     last={"tokens": int(tl.max())},
                                     shown={"loss": f"{float(loss):.3f}", "acc": f"{acc:.3f}"})

        def validation():
            with averaged():
                return validate(model, cache, val_set, val_plan, d, args.val_batches)

        def probing():
            with averaged():
                return probe(model, vq, norm, cache)

        probe = None
        if args.probe_every and d.is_main:
            from intermask.api import DEFAULT_EVALUATOR
            from train.probe import Probe

            evaluator = Path(args.evaluator or DEFAULT_EVALUATOR)
            probe = Probe(cfg.data.data_root, evaluator, clips=args.probe_clips, seed=args.seed)
        ckpt = common.Checkpoints(args, d, out, logger, save, best, probe=probing if probe is not None else None)
        model.train()
        done = common.train_steps(args, d, plan, train_set, collate, schedule, params, opt, step, logger, ckpt,
                                  validation if val_plan else None, start, end, average)
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
