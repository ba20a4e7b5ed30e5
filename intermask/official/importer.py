"""Official checkpoints (``checkpoints/<dataset>/<name>/{opt.txt, model/<which>.tar}`` + ``data/stats``) → our
``OUT/vq`` and ``OUT/intermask`` checkpoint directories.

The ``.tar`` files are ``torch.save`` pickles of {model state dict, optimiser, scheduler, epoch, iteration}. They are
read with ``weights_only=True`` (tensors, containers and numbers only: a file that needs anything else is refused)
and ``map_location="cpu"`` (they are tagged ``cuda:0``). Only the model entry is used.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from intermask import checkpoint as ckpt
from intermask.errors import InterMaskError
from intermask.motion.normalize import Normalizer
from intermask.official import keys, opt_file

VQ_ENTRIES = ("vq_model", "net")  # the official loaders accept either name
TRANSFORMER_ENTRIES = ("t2m_transformer", "trans")
TERMS = ("The weights are the InterMask authors' (code: MIT licence, https://github.com/gohar-malik/InterMask). "
         "They were trained on InterHuman, whose licence allows non-commercial research use only; the same terms "
         "apply to these weights and to every motion generated with them.")


@dataclass
class OfficialPaths:
    """Where the official files of one data set are."""
    checkpoints: Path
    stats: Path
    dataset: str = "interhuman"
    vq_name: str = "vq_default"
    trans_name: str = "trans_default"
    which: str = "best_fid.tar"

    def run_dir(self, name: str) -> Path:
        return Path(self.checkpoints) / self.dataset / name

    def weights(self, name: str) -> Path:
        return self.run_dir(name) / "model" / self.which


def load_state(path: Path, entries: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The model state dict inside an official ``.tar``, read without executing any pickled code."""
    if not path.is_file():
        raise InterMaskError(f"Official checkpoint {path} does not exist.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InterMaskError(f"{path} needs more than tensors and plain containers to load ({first}); refusing "
                             "it, since unpickling arbitrary objects can run code.") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise InterMaskError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}).") from None
    if not isinstance(data, dict):
        raise InterMaskError(f"{path} holds a {type(data).__name__}, not the official checkpoint dictionary.")
    for entry in entries:
        if entry in data:
            state = data[entry]
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise InterMaskError(f"{path}: entry {entry!r} is not a state dict of tensors.")
            return dict(state)
    raise InterMaskError(f"{path} has none of the entries {list(entries)} (it has {sorted(map(str, data))}); it is "
                         "not an official InterMask checkpoint of this kind.")


def load_stats(stats_dir: Path, dataset: str) -> Normalizer:
    names = {"interhuman": ("global_mean.npy", "global_std.npy")}[dataset]
    arrays = []
    for name in names:
        path = Path(stats_dir) / name
        if not path.is_file():
            raise InterMaskError(f"{path} does not exist; --stats must be the official data/stats folder.")
        arrays.append(np.load(path, allow_pickle=False))
    return Normalizer(*arrays)


def build_models(paths: OfficialPaths, clip_path: str = ""):
    """→ (ModelConfig, our VQVAE, our InterMTransformer, Normalizer), filled with the official weights."""
    from intermask.models.transformer import InterMTransformer
    from intermask.models.vqvae import VQVAE

    if paths.dataset != "interhuman":
        raise InterMaskError(f"--dataset {paths.dataset!r} cannot be imported yet; accepted: 'interhuman' (the "
                             "Inter-X model needs a 56-row rotation VQ and SMPL-X joints, which are missing here; "
                             "see the README).")
    trans_opt_path = paths.run_dir(paths.trans_name) / "opt.txt"
    trans_opt = opt_file.read_opt(trans_opt_path)
    vq_name = trans_opt.get("vq_name", paths.vq_name)
    if vq_name != paths.vq_name:
        raise InterMaskError(f"{trans_opt_path} was trained on the VQ {vq_name!r}, but --vq-name is "
                             f"{paths.vq_name!r}; pass --vq-name {vq_name}.")
    vq_opt_path = paths.run_dir(paths.vq_name) / "opt.txt"
    cfg = opt_file.model_config(opt_file.read_opt(vq_opt_path), trans_opt, clip_path,
                                vq_where=str(vq_opt_path), trans_where=str(trans_opt_path))
    norm = load_stats(paths.stats, paths.dataset)
    vq = VQVAE(cfg.vq, norm.mean, norm.std)
    keys.convert_vq(load_state(paths.weights(paths.vq_name), VQ_ENTRIES), vq)
    transformer = InterMTransformer(cfg.transformer, cfg.vq.nb_code, text_dim=768, groups=vq.groups,
                                    frames_per_token=vq.frames_per_token)
    keys.convert_transformer(load_state(paths.weights(paths.trans_name), TRANSFORMER_ENTRIES), transformer)
    return cfg, vq.eval(), transformer.eval(), norm


def _card(kind: str, paths: OfficialPaths, name: str, command: str) -> str:
    return (f"# Official InterMask {kind} ({paths.dataset}), imported\n\n"
            f"Source: `{paths.weights(name)}` with `{paths.run_dir(name) / 'opt.txt'}` and the normalisation stats "
            f"of `{paths.stats}`.\n\nImported with `{command}`: the weights are the official ones, renamed; the "
            "architecture was read from opt.txt; the VQ reproduces the official graph convolution "
            "(`gcn_official_bug`), the text path feeds all 77 CLIP tokens as the official code does "
            "(`clip_official`).\n\n## Terms\n\n" + TERMS + "\n")


def import_official(paths: OfficialPaths, out: str | os.PathLike, clip_path: str = "",
                    command: str = "python -m intermask import-official") -> tuple[Path, Path]:
    """Write ``out/vq`` and ``out/intermask``; returns both paths."""
    cfg, vq, transformer, norm = build_models(paths, clip_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    vq_dir = ckpt.save_checkpoint(out / "vq", vq, cfg, "vq", norm, card=_card("VQ-VAE", paths, paths.vq_name, command))
    trans_dir = ckpt.save_checkpoint(out / "intermask", transformer, cfg, "transformer", norm, text_dim=768,
                                     vq_dir=vq_dir, card=_card("transformer", paths, paths.trans_name, command))
    return vq_dir, trans_dir
