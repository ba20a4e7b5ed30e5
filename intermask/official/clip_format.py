"""OpenAI-layout CLIP text weights and BPE merges → a ``transformers`` CLIP text directory.

The official code loads CLIP with OpenAI's ``clip`` package; this project runs the same text tower through
``transformers`` (``intermask/text/clip.py``). The two name the same tensors differently: OpenAI packs the
attention's query/key/value into one ``in_proj`` and calls the MLP ``c_fc``/``c_proj``. Heads are 64 wide and the
activation is QuickGELU in every OpenAI CLIP text tower. The tokenizer vocabulary is derived from the merges the
way OpenAI's tokenizer derives it: the 256 byte symbols, the same with the end-of-word mark, one token per merge,
then the start and end tokens.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from intermask.errors import InterMaskError

HEAD_WIDTH = 64
SOT, EOT = "<|startoftext|>", "<|endoftext|>"


def byte_symbols() -> list[str]:
    """The 256 byte symbols of CLIP's byte-level BPE in vocabulary order: the printable bytes standing for
    themselves first, then the other bytes (in byte order) as code points from 256 up."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), 256)))
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]


def vocabulary(merges: list[str]) -> list[str]:
    """Token strings in id order for BPE ``merges`` ("a b" lines)."""
    symbols = byte_symbols()
    return symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges] + [SOT, EOT]


def text_config(state: dict[str, torch.Tensor]) -> dict:
    """``transformers.CLIPTextConfig`` keyword arguments for an OpenAI-layout text state dict."""
    try:
        vocab, width = state["token_embedding.weight"].shape
        context = state["positional_embedding"].shape[0]
        ff = state["transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
    except KeyError as exc:
        raise InterMaskError(f"Not an OpenAI CLIP state dict: it has no {exc.args[0]!r}.") from None
    layers = 1 + max(int(m[1]) for k in state if (m := re.match(r"transformer\.resblocks\.(\d+)\.", k)))
    projection = state["text_projection"].shape[1] if "text_projection" in state else width
    return dict(vocab_size=int(vocab), hidden_size=int(width), intermediate_size=int(ff),
                num_hidden_layers=int(layers), num_attention_heads=int(width) // HEAD_WIDTH,
                max_position_embeddings=int(context), hidden_act="quick_gelu", layer_norm_eps=1e-5,
                projection_dim=int(projection), bos_token_id=int(vocab) - 2, eos_token_id=int(vocab) - 1,
                pad_token_id=int(vocab) - 1)


def text_state_to_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI-layout text weights → the text transformer's state dict in ``transformers`` names, without the
    ``text_model.`` prefix that some ``transformers`` versions put in front (vision weights and projections are
    left out)."""
    out = {"embeddings.token_embedding.weight": state["token_embedding.weight"],
           "embeddings.position_embedding.weight": state["positional_embedding"],
           "final_layer_norm.weight": state["ln_final.weight"],
           "final_layer_norm.bias": state["ln_final.bias"]}
    layers = {int(m[1]) for k in state if (m := re.match(r"transformer\.resblocks\.(\d+)\.", k))}
    for i in sorted(layers):
        src, dst = f"transformer.resblocks.{i}.", f"encoder.layers.{i}."
        for name, value in zip("qkv", state[src + "attn.in_proj_weight"].chunk(3)):
            out[f"{dst}self_attn.{name}_proj.weight"] = value
        for name, value in zip("qkv", state[src + "attn.in_proj_bias"].chunk(3)):
            out[f"{dst}self_attn.{name}_proj.bias"] = value
        pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
                 "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
        for a, b in pairs.items():
            out[f"{dst}{b}.weight"] = state[f"{src}{a}.weight"]
            out[f"{dst}{b}.bias"] = state[f"{src}{a}.bias"]
    return {k: v.detach().float().contiguous().clone() for k, v in out.items()}


def write_transformers_clip(directory: str | os.PathLike, state: dict[str, torch.Tensor],
                            merges: list[str]) -> Path:
    """A directory ``CLIPEncoder`` loads: the text model converted from ``state`` and a tokenizer from ``merges``."""
    from transformers import CLIPTextConfig, CLIPTextModel

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = text_config(state)
    vocab = vocabulary(merges)
    if len(vocab) != cfg["vocab_size"]:
        raise InterMaskError(f"{len(merges)} merges give {len(vocab)} tokens, but the embedding table has "
                             f"{cfg['vocab_size']} rows.")
    model = CLIPTextModel(CLIPTextConfig(**cfg))
    prefix = "text_model." if any(k.startswith("text_model.") for k in model.state_dict()) else ""
    converted = {prefix + k: v for k, v in text_state_to_transformers(state).items()}
    missing, unexpected = model.load_state_dict(converted, strict=False)
    # position_ids is a buffer transformers builds itself
    if [k for k in missing if not k.endswith("position_ids")] or unexpected:
        raise InterMaskError(f"CLIP conversion mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}.")
    model.save_pretrained(directory)
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return directory
