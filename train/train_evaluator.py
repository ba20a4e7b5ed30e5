"""Train the contrastive text-motion evaluator (intermask/models/evaluator.py) on InterHuman-layout data.

    python train/train_evaluator.py --data-root data/InterSynth --out checkpoints/intersynth/evaluator \
        --max-steps 2500 --batch-size 32 --seed 0

Single process. Reads de-normalised 262-d features (the dataset without a normaliser), with the dataset's random
crops and person swaps; the frozen text encoder (MiniLM by default) runs once per unique description through
TextFeatureCache, saved next to the checkpoint for the next run. Writes ``--out``/config.json,
model.safetensors, card.md and log.jsonl (one JSON object per logged step and per validation).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from intermask.config import add_dataclass_arguments, apply_arguments
from intermask.errors import InterMaskError
from intermask.models.evaluator import (PERSON_DIM, EvaluatorConfig, TextMotionEvaluator, clip_loss,
                                        save_evaluator)
from train.common import command_line

MODEL_FLAGS = ("latent_dim", "n_heads", "ff_size", "motion_layers", "text_layers", "out_dim", "dropout", "patch",
               "symmetric", "init_scale", "text_encoder", "max_words", "rotation_floor_deg")


@dataclass
class TrainEvaluatorConfig:
    data_root: str = ""
    out: str = "checkpoints/evaluator"
    max_steps: int = 2500
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    max_frames: int = 300
    min_frames: int = 15
    swap_prob: float = 0.5  # extra person swaps on top of the dataset's (a no-op for the symmetric model)
    val_split: str = "val"
    val_every: int = 500
    val_batch: int = 32  # R-precision batch size reported during training (part of the metric)
    log_every: int = 10
    stats_items: int = 512  # items sampled to fit the evaluator's input standardisation
    text_cache: str = ""  # default: <out>/text_cache.safetensors
    workers: int = 0
    progress: bool = True


# ---------------------------------------------------------------------------------------------------- data
def collate(items: list[dict]) -> dict:
    """Pad the (2, F, 262) motions of a batch to (B, Fmax, 2, 262) with zeros."""
    lengths = torch.tensor([int(it["length"]) for it in items])
    fmax = int(lengths.max())
    motion = torch.zeros(len(items), fmax, 2, 262)
    for i, it in enumerate(items):
        m = torch.as_tensor(np.asarray(it["motion"]), dtype=torch.float32)[:, : int(it["length"])]
        motion[i, : m.shape[1]] = m.transpose(0, 1)
    return {"motion": motion, "length": lengths, "text": [it["text"] for it in items],
            "name": [it.get("name", "") for it in items]}


def open_split(cfg: TrainEvaluatorConfig, split: str):
    try:
        from intermask.data.interhuman import InterHumanDataset
    except ImportError as exc:
        raise InterMaskError("The InterHuman-layout loader (intermask.data.interhuman) is not available: "
                             f"{exc}.") from None
    return InterHumanDataset(cfg.data_root, split, normalizer=None, max_frames=cfg.max_frames,
                             min_frames=cfg.min_frames, seed=cfg.seed)


def input_stats(dataset, n_items: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean/std (258,) of one person's de-normalised features over valid frames of a sample of items."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(dataset))[: n_items]
    total = torch.zeros(PERSON_DIM, dtype=torch.float64)
    sq = torch.zeros(PERSON_DIM, dtype=torch.float64)
    count = 0
    for i in idx:
        it = dataset[int(i)]
        m = torch.as_tensor(np.asarray(it["motion"]), dtype=torch.float64)[:, : int(it["length"]), :PERSON_DIM]
        m = m.reshape(-1, PERSON_DIM)
        total += m.sum(0)
        sq += (m * m).sum(0)
        count += m.shape[0]
    mean = total / max(count, 1)
    std = (sq / max(count, 1) - mean * mean).clamp_min(0).sqrt()
    return mean.float(), std.float()


def _text_ids(texts: list[str]) -> torch.Tensor:
    ids: dict[str, int] = {}
    return torch.tensor([ids.setdefault(t, len(ids)) for t in texts])


def lr_at(step: int, cfg: TrainEvaluatorConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


# ---------------------------------------------------------------------------------------------------- eval
@torch.no_grad()
def validate(model: TextMotionEvaluator, cache, dataset, cfg: TrainEvaluatorConfig) -> dict:
    """Embeddings of the whole split (one text per clip) → R-precision/MM-Dist at ``val_batch``, and loss."""
    from intermask.metrics.retrieval import matching_metrics

    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(0)  # the same crops, swaps and texts at every validation
    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=False, collate_fn=collate)
    em, et, losses = [], [], []
    for batch in loader:
        feats = cache.get(batch["text"])
        e_m, e_t = model(batch["motion"], batch["length"], feats.words, feats.mask)
        losses.append(float(clip_loss(e_m, e_t, _text_ids(batch["text"]))[0]))
        em.append(e_m)
        et.append(e_t)
    model.train()
    em, et = torch.cat(em), torch.cat(et)
    res = {"val_loss": float(np.mean(losses)), "val_items": int(em.shape[0])}
    if em.shape[0] >= cfg.val_batch:
        res.update(matching_metrics(et, em, batch_size=cfg.val_batch, top_k=min(3, cfg.val_batch),
                                    rng=np.random.default_rng(cfg.seed)))
    return res


# ---------------------------------------------------------------------------------------------------- train
def train(cfg: TrainEvaluatorConfig, model_cfg: EvaluatorConfig, train_set=None, val_set=None,
          text_encoder=None) -> dict:
    """Train and write the checkpoint to ``cfg.out``; returns a summary dict. Datasets and the text encoder
    can be passed in (tests); by default they are opened from ``cfg.data_root`` and the registry."""
    from tqdm import tqdm

    from intermask.config import TextConfig
    from intermask.text import load_text_encoder
    from intermask.text.cache import TextFeatureCache

    if train_set is None:
        if not cfg.data_root:
            raise InterMaskError("Give --data-root: a directory in the InterHuman layout (e.g. an InterSynth set).")
        train_set = open_split(cfg, "train")
        if val_set is None and cfg.val_split:
            val_set = open_split(cfg, cfg.val_split)
    if len(train_set) < cfg.batch_size:
        raise InterMaskError(f"The training split has {len(train_set)} clips, fewer than one batch of "
                             f"{cfg.batch_size}.")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    encoder = text_encoder or load_text_encoder(TextConfig(encoder=model_cfg.text_encoder,
                                                           max_words=model_cfg.max_words))
    model_cfg = dataclasses.replace(model_cfg, text_encoder=encoder.name, text_dim=encoder.dim,
                                    max_words=encoder.max_words, max_frames=cfg.max_frames)
    cache = TextFeatureCache(encoder)
    cache_path = Path(cfg.text_cache) if cfg.text_cache else out / "text_cache.safetensors"
    cache.load(cache_path)

    # Dropout and initialisation use torch's global generator; fork it so this call leaves it as it found it.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = TextMotionEvaluator(model_cfg)
        model.set_input_stats(*input_stats(train_set, cfg.stats_items, cfg.seed))
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        swap_gen = torch.Generator().manual_seed(cfg.seed + 1)
        summary: dict = {"steps": 0}
        step, epoch, t0 = 0, 0, time.time()
        bar = tqdm(total=cfg.max_steps, desc="evaluator", disable=not cfg.progress, dynamic_ncols=True)
        model.train()
        with open(out / "log.jsonl", "a") as log:
            while step < cfg.max_steps:
                if hasattr(train_set, "set_epoch"):
                    train_set.set_epoch(epoch)
                loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                                                     drop_last=True, collate_fn=collate, generator=gen,
                                                     num_workers=cfg.workers)
                for batch in loader:
                    if step >= cfg.max_steps:
                        break
                    motion = batch["motion"]
                    swap = torch.rand(motion.shape[0], generator=swap_gen) < cfg.swap_prob
                    motion[swap] = motion[swap].flip(2)
                    feats = cache.get(batch["text"])
                    for group in opt.param_groups:
                        group["lr"] = lr_at(step, cfg)
                    e_m, e_t = model(motion, batch["length"], feats.words, feats.mask)
                    loss, acc = clip_loss(e_m, e_t, _text_ids(batch["text"]))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    opt.step()
                    with torch.no_grad():
                        model.latent_scale.clamp_(0.1, 10.0)  # CLIP caps its logit scale at 100 = 10²
                    step += 1
                    bar.update(1)
                    if step % cfg.log_every == 0 or step == cfg.max_steps:
                        rec = {"step": step, "epoch": epoch, "loss": loss.item(), "acc": acc.item(),
                               "lr": opt.param_groups[0]["lr"], "latent_scale": model.latent_scale.item(),
                               "steps_per_s": step / (time.time() - t0)}
                        log.write(json.dumps(rec) + "\n")
                        log.flush()
                        bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['acc']:.2f}")
                        summary.update(rec)
                    if val_set is not None and (step % cfg.val_every == 0 or step == cfg.max_steps):
                        res = validate(model, cache, val_set, cfg)
                        log.write(json.dumps({"step": step, **res}) + "\n")
                        log.flush()
                        summary.update(res)
                epoch += 1
        bar.close()
    summary["steps"] = step
    summary["seconds"] = time.time() - t0
    summary["steps_per_s"] = step / max(summary["seconds"], 1e-9)
    cache.save(cache_path)
    save_evaluator(model.eval(), out, card=_card(cfg, model_cfg, summary, len(train_set)),
                   extra={"training": {"data_root": cfg.data_root, "steps": step, "batch_size": cfg.batch_size,
                                       "seed": cfg.seed}},
                   keep=("log.jsonl", cache_path.name))
    return summary


def _card(cfg: TrainEvaluatorConfig, model_cfg: EvaluatorConfig, summary: dict, n_train: int) -> str:
    metrics = "\n".join(f"- {k}: {v:.4f}" if isinstance(v, float) else f"- {k}: {v}"
                        for k, v in summary.items())
    return (f"# Text-motion evaluator\n\nContrastive (InterCLIP-style) evaluator trained with "
            f"train/train_evaluator.py on `{cfg.data_root or 'in-memory data'}` ({n_train} training clips), "
            f"{summary.get('steps', 0)} steps at batch {cfg.batch_size}, seed {cfg.seed}, text encoder "
            f"`{model_cfg.text_encoder}`.\nR-precision below is computed within batches of {cfg.val_batch} on the "
            f"`{cfg.val_split}` split; numbers at other batch sizes are not comparable.\n\n"
            f"- wall time: {summary.get('seconds', 0.0) / 60:.1f} min\n"
            f"- command: `{command_line()}`\n\n"
            f"## Last logged values\n{metrics}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train the contrastive text-motion evaluator.")
    add_dataclass_arguments(parser, TrainEvaluatorConfig)
    add_dataclass_arguments(parser, EvaluatorConfig, prefix="eval_", only=MODEL_FLAGS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = apply_arguments(TrainEvaluatorConfig(), args)
    model_cfg = apply_arguments(EvaluatorConfig(), args, prefix="eval_")
    try:
        summary = train(cfg, model_cfg)
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in sorted(summary) if not isinstance(summary[k], (list, dict))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
