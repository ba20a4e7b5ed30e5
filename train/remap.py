#!/usr/bin/env python
"""Carry a trained transformer over to a VQ-VAE that was trained further (``train_vq.py --init-from``).

    python train/remap.py --transformer checkpoints/intersynth/intermask \\
        --old-tokens runs/t2m/tokens_train.safetensors --new-tokens runs/t2m_vq2/tokens_train.safetensors \\
        --out runs/remapped
    torchrun ... train/train_transformer.py --vq runs/vq2/best --init-from runs/remapped ...

Training a VQ further moves its codebook and re-indexes its codes: on InterSynth, 3,000 more steps left 7% of the
training set's token positions with the same id. The transformer's knowledge of text and interaction is still
good; only its code vocabulary is stale. The two token caches of the same training clips tell which old codes each
new code stands for (P(old | new), counted over every position of every token map); each new code's input
embedding and output row become the matching average of the old ones, so fine-tuning starts from a model that
already predicts the right kind of motion instead of from a scrambled vocabulary.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python train/remap.py` from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from intermask.errors import InterMaskError


def code_correspondence(old_codes: np.ndarray, new_codes: np.ndarray, num_codes: int) -> torch.Tensor:
    """P(old | new) as a (num_codes, num_codes) row-stochastic matrix from two tokenisations of the same clips.

    A new code that never occurs keeps its own index (a row of the identity): nothing better is known of it.
    """
    if old_codes.shape != new_codes.shape:
        raise InterMaskError(f"the two token caches differ in shape ({old_codes.shape} vs {new_codes.shape}): they "
                             "must tokenise the same clips in the same order.")
    counts = np.zeros((num_codes, num_codes), dtype=np.float64)
    np.add.at(counts, (new_codes.ravel().astype(np.int64), old_codes.ravel().astype(np.int64)), 1.0)
    unseen = counts.sum(1) == 0
    counts[unseen, np.flatnonzero(unseen)] = 1.0
    return torch.from_numpy(counts / counts.sum(1, keepdims=True)).float()


def remap_state(state: dict[str, torch.Tensor], p: torch.Tensor) -> dict[str, torch.Tensor]:
    """The transformer's weights with every code-indexed row replaced by its P(old | new) average.

    ``token_emb`` holds the codes and then the mask, pad and separator rows, which are kept; ``head_out`` scores
    the codes only.
    """
    n = p.shape[0]
    out = dict(state)
    emb = state["token_emb.weight"]
    out["token_emb.weight"] = torch.cat([p @ emb[:n], emb[n:]])
    out["head_out.weight"] = p @ state["head_out.weight"]
    out["head_out.bias"] = p @ state["head_out.bias"]
    return out


def remap_checkpoint(transformer: Path, old_tokens: Path, new_tokens: Path, out: Path) -> dict[str, float]:
    """Write ``out``: ``transformer`` with its code rows remapped. Returns how well the codes correspond."""
    from safetensors.numpy import load_file as load_np
    from safetensors.torch import load_file, save_file

    from intermask.checkpoint import read_config

    cfg = read_config(transformer)[0]
    num_codes = cfg.vq.nb_code
    old, new = load_np(str(old_tokens)), load_np(str(new_tokens))
    if not np.array_equal(old["offsets"], new["offsets"]):
        raise InterMaskError("the two token caches do not hold the same clips (their offsets differ); build both "
                             "from the same data root and split.")
    p = code_correspondence(old["codes"], new["codes"], num_codes)
    state = load_file(str(transformer / "model.safetensors"))
    if state["head_out.weight"].shape[0] != num_codes:
        raise InterMaskError(f"{transformer} scores {state['head_out.weight'].shape[0]} codes, its config says "
                             f"{num_codes}.")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "stats.npz"):
        if (transformer / name).exists():
            shutil.copy(transformer / name, out / name)
    save_file(remap_state(state, p), str(out / "model.safetensors"))
    same = float((old["codes"] == new["codes"]).mean())
    majority = float(p.max(1).values.mul(torch.from_numpy(np.bincount(
        new["codes"].ravel().astype(np.int64), minlength=num_codes)).float()).sum() / new["codes"].size)
    return {"same_id": same, "majority_agreement": majority}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transformer", type=Path, required=True, help="transformer checkpoint made on the old VQ")
    parser.add_argument("--old-tokens", type=Path, required=True,
                        help="tokens_train.safetensors of a run on the old VQ")
    parser.add_argument("--new-tokens", type=Path, required=True,
                        help="tokens_train.safetensors of a run on the new VQ (same data root)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the remapped checkpoint")
    args = parser.parse_args(argv)
    try:
        stats = remap_checkpoint(args.transformer, args.old_tokens, args.new_tokens, args.out)
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: positions with the same id {stats['same_id']:.1%}; "
          f"agreeing with their new code's most frequent old code {stats['majority_agreement']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
