"""Checkpoint directories, one writer and one set of readers for the three kinds; nothing is unpickled.

A checkpoint directory holds

- ``config.json``: ``kind`` plus what rebuilds the network. For ``vq`` and ``transformer``: the
  :class:`ModelConfig` with the keys ``dataset``, ``text_encoder``, ``text_dim``, ``stats`` (file name of the
  normaliser) and, for transformers, ``vq_dir`` (a path relative to the checkpoint directory). For the
  ``text_motion_evaluator``: its ``config`` (an :class:`EvaluatorConfig`) and ``training`` notes;
- ``model.safetensors``: the weights (buffers such as the VQ codebook and its EMA statistics included);
- ``stats.npz``: the :class:`Normalizer` (VQ and transformer);
- ``card.md``: what the model was trained on, how long, with which command, and its metrics;
- optionally ``train_state.safetensors`` + ``train_state.json``: optimiser state and step, for resuming.

:func:`write_checkpoint` builds the directory beside the target and renames it into place
(``intermask.atomic``), so a reader never sees a half written checkpoint and an interrupted write leaves the
previous one intact. Readers reject config keys they do not know (a typo or a newer format is an error, not a
silently different model).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import torch
from safetensors.torch import load_file, save_file

from intermask import config as C
from intermask.atomic import atomic_path
from intermask.errors import InterMaskError
from intermask.motion.normalize import Normalizer

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATS = "stats.npz"
CARD = "card.md"
TRAIN_STATE = "train_state.safetensors"
TRAIN_META = "train_state.json"
KINDS = ("vq", "transformer", "text_motion_evaluator")


def _tensors(module_or_dict) -> dict[str, torch.Tensor]:
    sd = module_or_dict.state_dict() if hasattr(module_or_dict, "state_dict") else module_or_dict
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in sd.items()}


def _flatten_optimizer(opt_state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for pid, st in opt_state["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars[f"{pid}.{name}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in opt_state["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for key, value in meta["scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def write_checkpoint(directory: str | os.PathLike, model: torch.nn.Module, config: dict, *,
                     normalizer: Normalizer | None = None, card: str = "",
                     optimizer: torch.optim.Optimizer | None = None, train_state: dict | None = None,
                     train_tensors: dict[str, torch.Tensor] | None = None, keep: Iterable[str] = ()) -> Path:
    """Write a complete checkpoint directory atomically (replacing an existing one) and return its path.

    ``config`` is written as given (it must name its ``kind``); ``train_tensors``: more resumable state beside the
    optimiser's (e.g. the raw weights of a run whose ``model.safetensors`` is an average), read back by
    :func:`load_train_tensors`; ``keep``: files of the existing directory that live beside the checkpoint (a
    training log) and survive the replacement.
    """
    if config.get("kind") not in KINDS:
        raise ValueError(f"config['kind'] must be one of {KINDS}, not {config.get('kind')!r}")
    directory = Path(directory)
    with atomic_path(directory, keep=keep) as tmp:
        tmp.mkdir()
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        save_file(_tensors(model), str(tmp / WEIGHTS))
        if normalizer is not None:
            normalizer.save(tmp / STATS)
        (tmp / CARD).write_text(card or f"# {config['kind']} checkpoint\n")
        if optimizer is not None or train_state is not None:
            tensors, opt_meta = _flatten_optimizer(optimizer.state_dict()) if optimizer else ({}, None)
            if any(k.startswith("opt.") for k in train_tensors or {}):
                raise ValueError("training-state tensor names starting with 'opt.' are the optimiser's")
            save_file({**tensors, **(train_tensors or {})}, str(tmp / TRAIN_STATE))
            (tmp / TRAIN_META).write_text(json.dumps({"optimizer": opt_meta, **(train_state or {})}, indent=2) + "\n")
    return directory


def save_checkpoint(directory: str | os.PathLike, model: torch.nn.Module, cfg: C.ModelConfig, kind: str,
                    normalizer: Normalizer, *, text_dim: int = 0, vq_dir: str | os.PathLike | None = None,
                    card: str = "", optimizer: torch.optim.Optimizer | None = None,
                    train_state: dict | None = None, train_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """A VQ or transformer checkpoint: the ModelConfig and its metadata, weights, normaliser, card."""
    if kind not in ("vq", "transformer"):
        raise ValueError(f"kind must be 'vq' or 'transformer', not {kind!r}")
    directory = Path(directory)
    meta = C.to_dict(cfg)
    meta.update(kind=kind, dataset=cfg.data.dataset, text_encoder=cfg.text.encoder, text_dim=int(text_dim),
                stats=STATS)
    if vq_dir is not None:
        meta["vq_dir"] = os.path.relpath(Path(vq_dir).resolve(), directory.resolve())
    return write_checkpoint(directory, model, meta, normalizer=normalizer,
                            card=card or f"# {cfg.name} {kind} checkpoint\n", optimizer=optimizer,
                            train_state=train_state, train_tensors=train_tensors)


def read_json_config(directory: str | os.PathLike, kind: str | None = None) -> dict:
    """The raw ``config.json`` of a checkpoint directory, checked to be of ``kind`` when given."""
    directory = Path(directory)
    path = directory / CONFIG
    if not path.is_file():
        raise InterMaskError(f"{directory} is not a checkpoint directory: it has no {CONFIG}.")
    data = C.read_json_object(path)
    if kind is not None and data.get("kind") != kind:
        raise InterMaskError(f"{directory} holds a {data.get('kind', 'unknown')!r} checkpoint, not a {kind!r} one.")
    return data


def load_weights(model: torch.nn.Module, directory: str | os.PathLike) -> None:
    """Load ``model.safetensors`` into ``model``, which must match it exactly."""
    directory = Path(directory)
    path = directory / WEIGHTS
    if not path.exists():
        raise InterMaskError(f"Checkpoint {directory} has no {WEIGHTS}.")
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InterMaskError(f"Checkpoint {directory} does not match its config.json: missing weights "
                             f"{missing[:5]}, unexpected {unexpected[:5]}.")


def read_config(directory: str | os.PathLike, kind: str | None = None) -> tuple[C.ModelConfig, dict]:
    """(ModelConfig, checkpoint metadata: kind, dataset, text_encoder, text_dim, stats, vq_dir) of a VQ or
    transformer checkpoint, checked to be of ``kind`` when given."""
    return C.split_checkpoint_config(read_json_config(directory, kind))


def load_vq(directory: str | os.PathLike, device: str | torch.device = "cpu"):
    """→ (VQVAE in eval mode, ModelConfig, Normalizer)."""
    from intermask.models.vqvae import VQVAE

    directory = Path(directory)
    cfg, meta = read_config(directory, "vq")
    norm = Normalizer.load(directory / meta.get("stats", STATS))
    model = VQVAE(cfg.vq, norm.mean, norm.std)
    load_weights(model, directory)
    return model.to(device).eval(), cfg, norm


def load_transformer(directory: str | os.PathLike, text_encoder: str | None = None,
                     device: str | torch.device = "cpu"):
    """→ (InterMTransformer in eval mode, ModelConfig, Normalizer, path of its VQ checkpoint or None).

    ``text_encoder``: the name of the encoder the caller will feed; a mismatch with the recorded one is an error.
    """
    from intermask.models.transformer import InterMTransformer
    from intermask.models.vqvae import frames_per_token, token_groups

    directory = Path(directory)
    cfg, meta = read_config(directory, "transformer")
    recorded = meta.get("text_encoder", cfg.text.encoder)
    if text_encoder is not None and text_encoder != recorded:
        raise InterMaskError(f"Checkpoint {directory} was trained with the {recorded!r} text encoder; it cannot "
                             f"be used with {text_encoder!r}. Use --text-encoder {recorded} or another checkpoint.")
    norm = Normalizer.load(directory / meta.get("stats", STATS))
    state = load_file(str(directory / WEIGHTS))
    text_dim = int(meta.get("text_dim") or state["cond_emb.weight"].shape[1])
    model = InterMTransformer(cfg.transformer, cfg.vq.nb_code, text_dim, groups=token_groups(cfg.vq),
                              frames_per_token=frames_per_token(cfg.vq))
    load_weights(model, directory)
    vq_dir = (directory / meta["vq_dir"]).resolve() if meta.get("vq_dir") else None
    return model.to(device).eval(), cfg, norm, vq_dir


def load_train_state(directory: str | os.PathLike) -> tuple[dict | None, dict]:
    """(optimiser state dict or None, the rest of train_state.json: step, epoch, best, ...)."""
    directory = Path(directory)
    meta_path = directory / TRAIN_META
    if not meta_path.exists():
        raise InterMaskError(f"{directory} holds no training state to resume from ({TRAIN_META} is missing).")
    meta = json.loads(meta_path.read_text())
    opt_meta = meta.pop("optimizer", None)
    opt = _unflatten_optimizer(load_file(str(directory / TRAIN_STATE)), opt_meta) if opt_meta else None
    return opt, meta


def load_train_tensors(directory: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The training-state tensors that are not the optimiser's (``train_tensors`` of :func:`write_checkpoint`);
    empty for a checkpoint written without any."""
    path = Path(directory) / TRAIN_STATE
    if not path.exists():
        return {}
    return {k: v for k, v in load_file(str(path)).items() if not k.startswith("opt.")}
