"""Official state-dict names → ours, strictly: every official key is consumed, every parameter of ours filled.

Facts of the official layout used here (read from its modules): the VQ encoder is ``model`` = [down levels
(strided conv, residual stack) ..., output conv] after two SAGE graph convolutions ``gcn_layer1/2`` (``lin`` is
the neighbour projection, ``lin_l``/``lin_r`` the neighbour and root maps); the decoder ``model`` is [input conv,
ReLU, up levels (residual stack, upsample, conv) ..., conv, ReLU] before its graph convolutions; the single
codebook is ``quantizer.layers.0.codebook`` (its EMA statistics are not saved). The transformer's modules map one
to one onto ours, ``nn.MultiheadAttention``'s packed ``in_proj_weight``/``in_proj_bias`` onto our packed
``in_proj`` Linear; its fixed 2D positional encoding stores ``inv_freq``, which is checked, not loaded.
"""
from __future__ import annotations

import math
import re

import torch

from intermask.errors import InterMaskError


def _attention(official: str, ours: str) -> list[tuple[str, str]]:
    return [(rf"{official}\.in_proj_weight", rf"{ours}.in_proj.weight"),
            (rf"{official}\.in_proj_bias", rf"{ours}.in_proj.bias"),
            (rf"{official}\.out_proj\.weight", rf"{ours}.out_proj.weight"),
            (rf"{official}\.out_proj\.bias", rf"{ours}.out_proj.bias")]


def vq_rules(down_t: int) -> list[tuple[str, str]]:
    d = down_t
    rules = [(r"encoder\.gcn_layer([12])\.lin\.(weight|bias)", lambda m: f"encoder.stem.{int(m[1]) - 1}.proj.{m[2]}"),
             (r"encoder\.gcn_layer([12])\.(lin_[lr])\.(weight|bias)",
              lambda m: f"encoder.stem.{int(m[1]) - 1}.{m[2]}.{m[3]}"),
             (r"decoder\.gcn_layer([12])\.lin\.(weight|bias)", lambda m: f"decoder.head.{int(m[1]) - 1}.proj.{m[2]}"),
             (r"decoder\.gcn_layer([12])\.(lin_[lr])\.(weight|bias)",
              lambda m: f"decoder.head.{int(m[1]) - 1}.{m[2]}.{m[3]}"),
             (rf"encoder\.model\.{d}\.(weight|bias)", r"encoder.out.\1"),
             (r"encoder\.model\.(\d+)\.0\.(weight|bias)", r"encoder.down.\1.0.\2"),
             (r"encoder\.model\.(\d+)\.1\.model\.(\d+)\.(conv[12]\.(?:weight|bias))", r"encoder.down.\1.1.\2.\3"),
             (r"decoder\.model\.0\.(weight|bias)", r"decoder.inp.\1"),
             (rf"decoder\.model\.{2 + d}\.(weight|bias)", r"decoder.post.\1"),
             (r"decoder\.model\.(\d+)\.0\.model\.(\d+)\.(conv[12]\.(?:weight|bias))",
              lambda m: f"decoder.up.{int(m[1]) - 2}.res.{m[2]}.{m[3]}"),
             (r"decoder\.model\.(\d+)\.2\.(weight|bias)", lambda m: f"decoder.up.{int(m[1]) - 2}.conv.{m[2]}"),
             (r"quantizer\.layers\.0\.codebook", "quantizer.codebook")]
    return rules


TRANSFORMER_RULES = [
    (r"token_emb\.weight", "token_emb.weight"),
    (r"input_process\.poseEmbedding\.(weight|bias)", r"token_proj.\1"),
    (r"cond_emb\.(weight|bias)", r"cond_emb.\1"),
    (r"Transformer\.blocks\.(\d+)\.adaLN_mod_combined\.model\.1\.(weight|bias)", r"blocks.\1.ada_combined.linear.\2"),
    (r"Transformer\.blocks\.(\d+)\.adaLN_mod_split\.model\.1\.(weight|bias)", r"blocks.\1.ada_split.linear.\2"),
    *_attention(r"Transformer\.blocks\.(\d+)\.self_attn\.attention", r"blocks.\1.self_attn"),
    *_attention(r"Transformer\.blocks\.(\d+)\.spa_temp_attn\.spatial_attention", r"blocks.\1.spatial_attn"),
    *_attention(r"Transformer\.blocks\.(\d+)\.spa_temp_attn\.temporal_attention", r"blocks.\1.temporal_attn"),
    *_attention(r"Transformer\.blocks\.(\d+)\.local_inter_attn\.interaction_attention", r"blocks.\1.cross_attn"),
    (r"Transformer\.blocks\.(\d+)\.ffn_combined\.model\.0\.(weight|bias)", r"blocks.\1.ffn.linear1.\2"),
    (r"Transformer\.blocks\.(\d+)\.ffn_combined\.model\.3\.(weight|bias)", r"blocks.\1.ffn.linear2.\2"),
    (r"Transformer\.blocks\.(\d+)\.ffn_split\.model\.0\.(weight|bias)", r"blocks.\1.ffn_split.linear1.\2"),
    (r"Transformer\.blocks\.(\d+)\.ffn_split\.model\.3\.(weight|bias)", r"blocks.\1.ffn_split.linear2.\2"),
    (r"output_process\.dense\.(weight|bias)", r"head_dense.\1"),
    (r"output_process\.adaLN_mod\.model\.1\.(weight|bias)", r"head_ada.linear.\1"),
    (r"output_process\.poseFinal\.(weight|bias)", r"head_out.\1"),
    *_attention(r"clipTrans\.layers\.(\d+)\.self_attn", r"text_head.layers.\1.attn"),
    (r"clipTrans\.layers\.(\d+)\.linear([12])\.(weight|bias)", r"text_head.layers.\1.ffn.linear\2.\3"),
    (r"clipTrans\.layers\.(\d+)\.norm([12])\.(weight|bias)", r"text_head.layers.\1.norm\2.\3"),
    (r"clipln\.(weight|bias)", r"text_head.norm.\1"),
]
PE_KEY = "position_enc.positional_encoding.inv_freq"


def rename(state: dict[str, torch.Tensor], rules, what: str) -> dict[str, torch.Tensor]:
    """Every key through the first rule that matches it whole; a key no rule matches is an error."""
    compiled = [(re.compile(pattern), target) for pattern, target in rules]
    out = {}
    for key, value in state.items():
        for pattern, target in compiled:
            m = pattern.fullmatch(key)
            if m:
                new = target(m) if callable(target) else m.expand(target)
                break
        else:
            raise InterMaskError(f"The official {what} holds {key!r}, which this importer does not know; it is "
                                 "not the official InterMask architecture (or a newer one).")
        if new in out:
            raise InterMaskError(f"The official {what} maps two keys onto {new!r}.")
        out[new] = value
    return out


def fill(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str, derived: tuple[str, ...] = ()) -> None:
    """Load ``state`` into ``model``: same names and shapes, nothing left over, nothing missing but ``derived``."""
    ours = model.state_dict()
    for key, value in state.items():
        if key not in ours:
            raise InterMaskError(f"The official {what} has {key!r}, which this model lacks; the configuration "
                                 "read from opt.txt does not describe it.")
        if tuple(value.shape) != tuple(ours[key].shape):
            raise InterMaskError(f"The official {what}'s {key!r} is {tuple(value.shape)}, this model's "
                                 f"{tuple(ours[key].shape)}; the configuration read from opt.txt does not match "
                                 "the weights.")
    missing = [k for k in ours if k not in state and k not in derived]
    if missing:
        raise InterMaskError(f"The official {what} lacks {missing[0]!r} (and {len(missing) - 1} more weights); "
                             "it is not a complete official checkpoint.")
    model.load_state_dict({**{k: ours[k] for k in derived}, **state}, strict=True)


def convert_vq(official: dict[str, torch.Tensor], vq) -> None:
    """Fill our VQVAE (built from the official opt.txt) with an official RVQVAE state dict."""
    state = rename({k: v.float() for k, v in official.items()}, vq_rules(vq.cfg.down_t), "VQ state dict")
    codebook = state["quantizer.codebook"] if "quantizer.codebook" in state else None
    fill(vq, state, "VQ state dict", derived=("quantizer.code_sum", "quantizer.code_count", "quantizer.initted"))
    if codebook is not None:
        # The official EMA sums are not saved; starting them at the codebook with unit counts is what a fresh
        # codebook initialisation does, so fine-tuning an imported VQ starts from a consistent EMA.
        with torch.no_grad():
            vq.quantizer.code_sum.copy_(codebook)
            vq.quantizer.code_count.fill_(1.0)
            vq.quantizer.initted.fill_(True)


def official_inv_freq(latent_dim: int) -> torch.Tensor:
    """The 2D sine encoding's frequencies (positional-encodings' PositionalEncoding2D) for ``latent_dim``."""
    ch = int(math.ceil(latent_dim / 4) * 2)
    return 1.0 / (10000 ** (torch.arange(0, ch, 2).float() / ch))


def convert_transformer(official: dict[str, torch.Tensor], transformer) -> None:
    """Fill our InterMTransformer (built from the official opt.txt) with an official MaskTransformer state dict.

    ``clip_*`` keys (the frozen CLIP, which the official trainer removes before saving) are ignored: ours comes
    from a local ``transformers`` CLIP directory.
    """
    state = {k: v.float() for k, v in official.items() if not k.startswith("clip_")}
    inv_freq = state.pop(PE_KEY, None)
    if inv_freq is not None:
        expected = official_inv_freq(transformer.cfg.latent_dim)
        if inv_freq.shape != expected.shape or not torch.allclose(inv_freq, expected, rtol=1e-5, atol=0):
            raise InterMaskError(f"The official transformer's positional encoding ({PE_KEY}) is not the 2D sine "
                                 "encoding this model computes.")
    fill(transformer, rename(state, TRANSFORMER_RULES, "transformer state dict"), "transformer state dict")
