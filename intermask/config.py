"""Dataclass configurations, the ``tiny`` and ``paper`` presets, JSON reading and argparse derived from them.

One configuration system for the whole project: every script builds its parser with
:func:`add_dataclass_arguments` from these classes, so no option list is written twice, and a preset carries
everything that differs between sizes (architecture and training hyperparameters alike).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from intermask.errors import InterMaskError


@dataclass
class VQConfig:
    """2D VQ-VAE over a person's (12 features × 22 joints × T) map (docs/design-notes.md, "VQ-VAE").

    ``down_t`` sets the token geometry: 2**down_t frames per time token and the joint groups left after as many
    halvings (``intermask.models.vqvae.frames_per_token`` / ``token_groups``).
    """
    nb_code: int = 1024
    code_dim: int = 512
    width: int = 512
    # Not in the paper: a decoder wider than the encoder. The codes are the encoder's business; a wider decoder
    # turns the same codes into more precise motion (train_vq.py --decoder-only keeps every code id as it was).
    decoder_width: int = field(default=0, metadata={"help": "decoder channels (0 = --width)"})
    down_t: int = 2
    depth: int = 2
    dilation_growth_rate: int = 3
    dropout: float = 0.2
    mu: float = 0.99  # EMA decay of the codebook
    sample_codebook_temp: float = 0.5  # Gumbel temperature of training-time code assignment
    gcn: bool = True  # graph-conv stem and head (edges offset per frame, see models/vqvae.py)
    gcn_official_bug: bool = False  # reproduce the official graph conv (only frame 0 has edges; models/vqvae.py)
    # Not in the paper: the order of the joints along the map's joint axis. Each of the 5 token groups is centred on
    # 4 neighbouring joints of that axis, and SMPL's order puts the spine's joints (3, 6, 9) among the legs' there
    # (docs/design-notes.md, "Trunk posture"); changing it makes a new VQ (its codes mean other things).
    joint_order: str = field(default="smpl", metadata={
        "help": "order of the joints along the VQ map's joint axis: smpl (the paper's) or limbs (pelvis and spine, "
                "left leg, right leg, then neck, collars, head and arms as in SMPL: a token group per body part)"})
    window_size: int = 64
    window_stride: int = 10
    # loss weights (the paper's; docs/design-notes.md, "VQ-VAE")
    commit: float = 0.02
    explicit: float = 1.0
    vel: float = 100.0
    bn: float = 5.0
    geo: float = 0.01
    fc: float = 500.0
    # Not in the paper: the wrists' squared position error in metres. The other position terms average all 22
    # joints in normalised units, so a brief reach (a fist bump, a high five) costs little and comes back short.
    hands: float = field(default=0.0, metadata={"help": "weight of the wrists' squared position error in metres "
                                                        "(brief contacts; 0 = the paper's losses)"})
    # Not in the paper either: repetitions where a person's hands meet (claps) come back with the hands ~20 cm
    # apart, since the wrist term weighs a gap error no more than any other wrist error.
    hand_gap: float = field(default=0.0, metadata={"help": "weight of the error (m) of the vector between a "
                                                           "person's two wrists, weighted toward frames where "
                                                           "they meet (claps; 0 = off)"})
    # Nor this: a handshake or fist bump is lost when a wrist stops a few cm short in the few frames where it is on
    # the partner; the touch term weighs the wrists' error by their ground-truth nearness to the partner.
    touch: float = field(default=0.0, metadata={"help": "weight of the wrists' error (m) in frames where they touch "
                                                       "the other person (handshakes, fist bumps; 0 = off)"})
    # Nor this: the paper's foot-contact term (fc) is a smooth-L1 of millimetres per frame, quadratic and flat there,
    # so decoded feet slide during contact; this one is an L1 of the speed error (m/s) of the decoded positions and
    # velocity channel in the ground truth's contact frames (docs/design-notes.md, "Feet that stay planted").
    foot_lock: float = field(default=0.0, metadata={"help": "weight of the feet's speed error (m/s, L1) where the "
                                                           "ground-truth foot is in contact (0 = off)"})
    # Nor this: the reconstructions' trunk posture (a lean of a degree or two over the spine) is uncorrelated with the
    # ground truth's (r = 0.14 on test clips), and the evaluator reads it (docs/design-notes.md, "Trunk posture").
    posture: float = field(default=0.0, metadata={"help": "weight of the error of the trunk's posture: its rotation "
                                                         "features averaged over half-second spans (normalised "
                                                         "units, L1; 0 = off)"})
    # Decoding, not training: the decoder predicts positions and velocities, and the paper reads positions only.
    velocity_fusion: float = field(default=0.0, metadata={
        "help": "when decoding, fit positions to the decoded positions and velocities together with this weight on "
                "the velocities (motion/features.fuse_velocities: less jitter; 0 = positions only, "
                "as in the paper)"})


@dataclass
class TransformerConfig:
    """Inter-M transformer plus word-motion cross-attention (docs/design-notes.md, "Transformer")."""
    latent_dim: int = 384
    n_heads: int = 6
    n_layers: int = 6
    ff_size: int = 1024
    dropout: float = 0.2
    attn_dropout: float = 0.2  # dropout on attention weights (0 lets training use the fused SDPA kernel)
    token_emb_dim: int = 512  # width of the token embedding before its projection to latent_dim
    text_head_layers: int = 2  # the trainable transformer over frozen text features ("clipTrans")
    text_head_heads: int = 8
    text_head_ff: int = 2048
    cond_drop_prob: float = 0.1
    interaction_mask_prob: float = 0.2
    step_unroll: float = 1.0
    # Off (0) by default; 5 for the bundled model's last 1,200 steps. A give or a fist bump touches for a few
    # frames, within centimetres; the plain loss weighs those tokens like any other (docs/design-notes.md,
    # "Training objective").
    touch_weight: float = field(default=0.0, metadata={
        "help": "weigh the masked-token loss at time steps where a wrist is on the partner by 1 + this × the "
                "touch weight (exp(-distance / 0.1 m), the VQ's touch term's); 0: off"})
    word_xattn: str = "every_block"  # none | pre | every_block (docs/design-notes.md, "Word cross-attention")
    # Word keys also see each token's static input embedding (docs/design-notes.md, "Static word vectors").
    static_words: bool = False
    # Not in the paper: a learned vector per person added to its tokens, so that the model can tell its two persons
    # apart (without it, swapping the persons swaps the output exactly and "the first person" means nothing;
    # docs/design-notes.md, "Canonicalisation"). Zero at the start, so --init-from grows it onto any checkpoint.
    person_embedding: bool = field(default=False, metadata={"help": "a learned embedding per person, so that a "
                                                                    "text can say which person acts"})
    # At zero the two vectors get the same gradient in expectation (swapping the persons is a symmetry of the
    # training data), so their difference grows from noise alone: 1,500 steps left it at 0.04 against a token
    # embedding's 2.3. Starting them at +v and -v (v Gaussian with this std per channel) breaks that tie at once,
    # at the price of no longer computing exactly what the checkpoint it grows from computed.
    person_embedding_init: float = field(default=0.0, metadata={
        "help": "the person vectors start at +v and -v, v Gaussian with this std per channel (0: both zero)"})
    # Not in the paper: the second person's tokens read the description with "the first person" and "the second
    # person" exchanged, so that each person reads "the first person" as itself and one set of weights can learn
    # "the person named first acts" for both (docs/design-notes.md, "Canonicalisation"). Texts that name no order
    # are read alike, exactly as without it; there are no new weights, so --init-from takes any checkpoint.
    person_words: bool = field(default=False, metadata={"help": "each person reads the description from its own "
                                                                "side ('the first person' = itself); needs "
                                                                "--person-order-words in training"})
    max_motion_frames: int = 300


@dataclass
class TextConfig:
    encoder: str = "minilm"  # minilm | clip | clip_official (all 77 CLIP rows, as imported official models read)
    clip_path: str = ""  # local directory of a transformers CLIP model; empty → the hub id where a network exists
    clip_hub_id: str = "openai/clip-vit-large-patch14-336"
    max_words: int = 32


@dataclass
class DataConfig:
    dataset: str = "interhuman"  # interhuman | interx (InterSynth uses the InterHuman layout)
    data_root: str = ""
    max_frames: int = 300  # longest clip the transformer trains on (10 s at 30 fps)
    min_frames: int = 15
    # >0: random windows of this many frames (InterHumanDataset). Training reads whole clips now; the field stays so
    # that config.json files of checkpoints trained on windows (96 frames, before whole clips) still load.
    train_frames: int = 0
    cache: bool = True
    # Off: the recipe every bundled model was trained with (the words stay while the persons swap).
    person_order_words: bool = field(default=False, metadata={
        "help": "when training swaps the two persons, swap 'the first person' and 'the second person' in the text "
                "too, so the order they name stays true (InterSynth's texts name the file order)"})
    # Off: the recipe of every model bundled before it (both slots take either role at random).
    actor_first: bool = field(default=False, metadata={
        "help": "put the person the label names as the one actor in the first slot (texts that name the persons "
                "by order keep the random swap), so the slots carry roles; needs InterSynth's labels"})
    # Empty: the recipe of every bundled model (each clip and its mirror image once per epoch).
    oversample: tuple[str, ...] = field(default=(), metadata={
        "help": "CATEGORY=COPIES ...: each training clip of these InterSynth categories (and its mirror image) "
                "appears COPIES times per epoch, e.g. give=3 fist_bump=3; needs InterSynth's labels"})


@dataclass
class TrainConfig:
    """Optimiser and schedule of one training script (AdamW, linear warm-up, step decay at fractions of the run).

    Given flags override the preset's values; a resumed run takes them from its command line, like the data.
    """
    batch_size: int = 32  # GLOBAL batch, split over the processes
    epochs: int = 3  # epochs over the training split (--max-steps overrides)
    lr: float = 2e-4
    warmup_steps: int = -1  # -1: a quarter of an epoch
    weight_decay: float = 0.0
    betas: tuple[float, ...] = (0.9, 0.99)
    lr_milestones: tuple[float, ...] = ()  # fractions of the run where the LR is multiplied by lr_gamma
    lr_gamma: float = 0.1
    grad_clip: float = 0.0  # max gradient norm; 0: no clipping
    ema_decay: float = field(default=0.0, metadata={"help": "keep an exponential moving average of the weights "
                                                             "with this decay (e.g. 0.997) and validate, probe "
                                                             "and save the average; 0: off (transformer only)"})


def vq_training(batch_size: int = 64, epochs: int = 20) -> TrainConfig:
    return TrainConfig(batch_size=batch_size, epochs=epochs, lr_milestones=(0.7, 0.85), lr_gamma=0.1,
                       grad_clip=1.0)


def transformer_training(batch_size: int = 32, epochs: int = 3) -> TrainConfig:
    return TrainConfig(batch_size=batch_size, epochs=epochs, weight_decay=1e-5, lr_milestones=(0.5, 0.7, 0.85),
                       lr_gamma=1 / 3)


@dataclass
class ModelConfig:
    """Everything a checkpoint needs to rebuild its networks, plus how it was trained; written to ``config.json``."""
    name: str = "tiny"
    vq: VQConfig = field(default_factory=VQConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    text: TextConfig = field(default_factory=TextConfig)
    data: DataConfig = field(default_factory=DataConfig)
    vq_training: TrainConfig = field(default_factory=vq_training)
    transformer_training: TrainConfig = field(default_factory=transformer_training)


def paper() -> ModelConfig:
    """The official sizes: VQ ≈ 43M, transformer ≈ 54M parameters with the CLIP ViT-L/14@336px encoder, and the
    official batches and run lengths."""
    return ModelConfig(name="paper", text=TextConfig(encoder="clip"),
                       vq_training=vq_training(batch_size=256, epochs=50),
                       transformer_training=transformer_training(batch_size=52, epochs=500))


def tiny() -> ModelConfig:
    """Small enough to train on a 2-core CPU and to generate a 3 s interaction in well under a second.

    The transformer trains on whole clips (tokenised once, batched by length; train/tokens.py); attention-weight
    dropout is off so that training uses the fused attention kernel, and the step-unroll pass (which doubles
    the cost of a step) is off: on this budget more updates beat the second pass. The VQ assigns codes by
    argmin (no Gumbel sampling): with 64-d codes and small encoder outputs, Gumbel noise at temperature 0.5
    outweighs the distances, assignments become random and the codebook collapses (seen in training); the EMA
    decay is 0.9 so that the codebook keeps up with a short, fast-learning run. The explicit joint-position loss
    weighs 10 (paper: 1) and the VQ has no dropout: at weight 1 with dropout 0.1 a short run learns the pose but
    leaves every person at the mean standing place (root error 1.32 m after 600 steps; explicit loss flat at 0.23
    at step 200 of an A/B pair), while at weight 10 without dropout the explicit loss was 0.09 and the root error
    0.27 m at step 200 of the same pair — where each person stands is the one thing the two-person token maps
    must carry that a single-person VQ need not.
    """
    return ModelConfig(
        name="tiny",
        vq=VQConfig(nb_code=512, code_dim=64, width=64, depth=2, dropout=0.0, sample_codebook_temp=0.0, mu=0.9,
                    explicit=10.0),
        transformer=TransformerConfig(latent_dim=128, n_heads=4, n_layers=3, ff_size=256, dropout=0.1,
                                      attn_dropout=0.0, token_emb_dim=64, step_unroll=0.0,
                                      text_head_layers=1, text_head_heads=4, text_head_ff=512),
        text=TextConfig(encoder="minilm"),
        data=DataConfig(),
    )


PRESETS = {"paper": paper, "tiny": tiny}


# ----------------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------------

def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls, data: dict):
    """Build a (nested) dataclass from a dict, rejecting unknown keys with a clear message."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InterMaskError(f"Unknown {cls.__name__} settings: {sorted(unknown)}. Known: {sorted(names)}.")
    kwargs = {}
    for key, value in data.items():
        typ = hints[key]
        if dataclasses.is_dataclass(typ) and isinstance(value, dict):
            value = from_dict(typ, value)
        elif typing.get_origin(typ) is tuple and isinstance(value, list):  # JSON has no tuples
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


# Keys a checkpoint's config.json holds beside the ModelConfig (see intermask/checkpoint.py).
CHECKPOINT_META_KEYS = ("kind", "dataset", "text_encoder", "text_dim", "stats", "vq_dir")


def resolve_model_config(name_or_path: str) -> ModelConfig:
    """``tiny``, ``paper``, a path to a ``config.json`` or a checkpoint directory."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]()
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if not path.exists():
        raise InterMaskError(f"--config must be one of {sorted(PRESETS)} or a config.json path; got {name_or_path!r}.")
    return read_config_file(path)[0]


def read_json_object(path: str | os.PathLike) -> dict:
    """A JSON file that must hold one object (a config.json), with a sentence for each way it can be wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InterMaskError(f"Configuration file {path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise InterMaskError(f"Configuration file {path} must hold a JSON object.")
    return data


def read_config_file(path: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """A ``config.json`` → (ModelConfig, the checkpoint metadata keys it also holds: kind, dataset, ...)."""
    return split_checkpoint_config(read_json_object(path))


def split_checkpoint_config(data: dict) -> tuple[ModelConfig, dict]:
    """A checkpoint's config.json object → (ModelConfig, its metadata keys); unknown keys are an error."""
    data = dict(data)
    meta = {key: data.pop(key) for key in CHECKPOINT_META_KEYS if key in data}
    return from_dict(ModelConfig, data), meta


# ----------------------------------------------------------------------------------------------------
# argparse from dataclasses
# ----------------------------------------------------------------------------------------------------

def _flag(prefix: str, name: str) -> str:
    return "--" + (prefix + name).replace("_", "-")


def _help(f: dataclasses.Field, default) -> str:
    text = f.metadata.get("help", "")
    return f"{text} (default: {default})" if text else f"(default: {default})"


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, prefix: str = "",
                            only: typing.Iterable[str] | None = None, defaults_from=None) -> None:
    """Add one ``--flag`` per scalar field of ``cls``. Defaults are None so that only the flags a user
    gives override a preset (see :func:`apply_arguments`); help shows the class default."""
    hints = typing.get_type_hints(cls)
    base = defaults_from if defaults_from is not None else cls()
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            continue
        default = getattr(base, f.name)
        flag = _flag(prefix, f.name)
        dest = (prefix + f.name).replace("-", "_")
        if typ is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None,
                               help=_help(f, default))
        elif typing.get_origin(typ) is tuple:
            group.add_argument(flag, dest=dest, type=typing.get_args(typ)[0], nargs="*", default=None,
                               help=_help(f, " ".join(map(str, default)) or "none"))
        else:
            group.add_argument(flag, dest=dest, type=typ, default=None, help=_help(f, default))


def apply_arguments(cfg, args: argparse.Namespace, prefix: str = ""):
    """Return a copy of ``cfg`` with every field whose flag was given replaced."""
    changes = {}
    for f in dataclasses.fields(cfg):
        dest = (prefix + f.name).replace("-", "_")
        value = getattr(args, dest, None)
        if value is not None and not dataclasses.is_dataclass(getattr(cfg, f.name)):
            changes[f.name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(cfg, **changes)
