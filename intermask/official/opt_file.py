"""The official ``opt.txt`` (argparse options written one ``key: value`` per line) → our ModelConfig.

The architecture comes from these files alone. The transformer's file names its VQ (``vq_name``) but holds no
``code_dim``/``nb_code``: those come from the VQ's file, as the official loader does. Neither file stores
``joints_num``/``dim_joint``: the official code derives them from ``dataset_name`` (InterHuman: 22 joints × 12).
"""
from __future__ import annotations

import os
from pathlib import Path

from intermask import config as C
from intermask.errors import InterMaskError

HEADERS = ("------------ Options -------------", "-------------- End ----------------")
DATASETS = ("interhuman", "interx")


def read_opt(path: str | os.PathLike) -> dict[str, str]:
    """``key: value`` lines → raw strings (values are typed where they are used, so nothing is guessed)."""
    path = Path(path)
    if not path.is_file():
        raise InterMaskError(f"Official options file {path} does not exist (every official checkpoint folder "
                             "holds an opt.txt beside model/).")
    opt = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.strip() in HEADERS:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            raise InterMaskError(f"{path}, line {number}: expected 'key: value', got {line!r}.")
        opt[key.strip()] = value
    return opt


def _get(opt: dict, key: str, cast, where: str, default=None):
    if key not in opt:
        if default is not None:
            return default
        raise InterMaskError(f"{where} has no {key!r} option; it is not an official InterMask opt.txt.")
    value = opt[key]
    try:
        if cast is bool:
            if value not in ("True", "False"):
                raise ValueError(value)
            return value == "True"
        return cast(float(value)) if cast is int and "." in value else cast(value)
    except ValueError:
        raise InterMaskError(f"{where}: option {key!r} = {value!r} is not a {cast.__name__}.") from None


def _require(opt: dict, key: str, accepted: tuple, where: str, cast=str) -> None:
    value = _get(opt, key, cast, where, default=accepted[0])
    if value not in accepted:
        raise InterMaskError(f"{where}: {key} = {value!r} has no counterpart here; accepted: {list(accepted)}.")


def vq_config(opt: dict, where: str = "the VQ opt.txt") -> C.VQConfig:
    """The official RVQVAE options → VQConfig (with the official graph-convolution behaviour)."""
    dataset = _get(opt, "dataset_name", str, where)
    if dataset != "interhuman":
        raise InterMaskError(f"{where}: dataset_name = {dataset!r}; only 'interhuman' VQs can be imported (the "
                             "Inter-X VQ has 56 rotation rows, which this project's VQ and motion pipeline lack).")
    _require(opt, "num_quantizers", (1,), where, int)
    _require(opt, "stride_t", (2,), where, int)
    _require(opt, "vq_act", ("relu",), where)
    _require(opt, "vq_norm", ("None",), where)
    code_dim = _get(opt, "code_dim", int, where)
    if _get(opt, "output_emb_width", int, where, default=code_dim) != code_dim:
        raise InterMaskError(f"{where}: output_emb_width must equal code_dim ({code_dim}), as the official model "
                             "asserts.")
    base = C.VQConfig()
    return C.VQConfig(
        nb_code=_get(opt, "nb_code", int, where), code_dim=code_dim, width=_get(opt, "width", int, where),
        down_t=_get(opt, "down_t", int, where), depth=_get(opt, "depth", int, where),
        dilation_growth_rate=_get(opt, "dilation_growth_rate", int, where),
        dropout=0.2,  # hard-coded in the official residual blocks
        mu=_get(opt, "mu", float, where, default=base.mu),
        gcn=True, gcn_official_bug=True,
        window_size=_get(opt, "window_size", int, where, default=base.window_size),
        window_stride=_get(opt, "window_stride", int, where, default=base.window_stride),
        commit=_get(opt, "commit", float, where, default=base.commit),
        explicit=_get(opt, "loss_explicit", float, where, default=base.explicit),
        vel=_get(opt, "loss_vel", float, where, default=base.vel), bn=_get(opt, "loss_bn", float, where, default=base.bn),
        geo=_get(opt, "loss_geo", float, where, default=base.geo), fc=_get(opt, "loss_fc", float, where, default=base.fc),
    )


def transformer_config(opt: dict, vq: C.VQConfig, where: str = "the transformer opt.txt") -> C.TransformerConfig:
    """The official MaskTransformer options → TransformerConfig. The text head (``clipTrans``: 2 layers, 8 heads,
    2048 wide, over 768-d CLIP rows) is fixed in the official code, not an option."""
    dropout = _get(opt, "dropout", float, where)
    return C.TransformerConfig(
        latent_dim=_get(opt, "latent_dim", int, where), n_heads=_get(opt, "n_heads", int, where),
        n_layers=_get(opt, "n_layers", int, where), ff_size=_get(opt, "ff_size", int, where),
        dropout=dropout, attn_dropout=dropout,  # nn.MultiheadAttention(dropout=dropout) in the official blocks
        token_emb_dim=vq.code_dim,  # the official token embedding is code_dim wide, then projected
        text_head_layers=2, text_head_heads=8, text_head_ff=2048,
        cond_drop_prob=_get(opt, "cond_drop_prob", float, where, default=0.1),
        interaction_mask_prob=_get(opt, "interaction_mask_prob", float, where, default=0.2),
        step_unroll=_get(opt, "step_unroll", float, where, default=1.0),
        word_xattn="none", static_words=False)


def model_config(vq_opt: dict, trans_opt: dict, clip_path: str = "", vq_where: str = "the VQ opt.txt",
                 trans_where: str = "the transformer opt.txt") -> C.ModelConfig:
    """Both official option files → one ModelConfig (the ``paper`` preset's training settings kept)."""
    vq = vq_config(vq_opt, vq_where)
    dataset = _get(trans_opt, "dataset_name", str, trans_where)
    if dataset != "interhuman":
        raise InterMaskError(f"{trans_where}: dataset_name = {dataset!r}; only 'interhuman' can be imported.")
    base = C.paper()
    return C.ModelConfig(
        name="official", vq=vq, transformer=transformer_config(trans_opt, vq, trans_where),
        text=C.TextConfig(encoder="clip_official", clip_path=clip_path, max_words=77),
        data=C.DataConfig(dataset="interhuman"),
        vq_training=base.vq_training, transformer_training=base.transformer_training)


def write_opt(path: str | os.PathLike, options: dict) -> Path:
    """An ``opt.txt`` in the official layout (sorted ``key: value`` lines between the two header lines); used to
    build official-format checkpoints for tests and the parity check."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{k}: {v}\n" for k, v in sorted(options.items()))
    path.write_text(f"{HEADERS[0]}\n{body}{HEADERS[1]}\n")
    return path


def official_vq_options(name: str = "vq_default", **sizes) -> dict:
    """The official VQ options (defaults of its option parser) with ``sizes`` overriding them."""
    opt = dict(name=name, dataset_name="interhuman", checkpoints_dir="./checkpoints", nb_code=1024, code_dim=512,
               output_emb_width=512, mu=0.99, down_t=2, stride_t=2, width=512, depth=2, dilation_growth_rate=3,
               vq_act="relu", vq_norm=None, num_quantizers=1, shared_codebook=False, quantize_dropout_prob=0.2,
               window_size=64, window_stride=10, batch_size=256, max_epoch=50, lr=0.0002, gamma=0.1, commit=0.02,
               loss_explicit=1.0, loss_vel=100.0, loss_bn=5.0, loss_geo=0.01, loss_fc=500.0, gpu_id=0)
    opt.update(sizes)
    opt["output_emb_width"] = opt["code_dim"]
    return opt


def official_transformer_options(name: str = "trans_default", vq_name: str = "vq_default", **sizes) -> dict:
    """The official transformer options (defaults of its option parser) with ``sizes`` overriding them; like the
    real file, without ``code_dim``/``nb_code``."""
    opt = dict(name=name, vq_name=vq_name, dataset_name="interhuman", checkpoints_dir="./checkpoints",
               latent_dim=384, n_heads=6, n_layers=6, ff_size=1024, dropout=0.2, cond_drop_prob=0.1,
               interaction_mask_prob=0.2, step_unroll=1.0, batch_size=52, max_epoch=500, lr=0.0002,
               gamma=1 / 3, seed=3407, gpu_id=0, is_train=True, force_mask=False)
    opt.update(sizes)
    return opt
