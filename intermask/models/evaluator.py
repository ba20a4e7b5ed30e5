"""A contrastive text-motion evaluator in the style of InterGen's InterCLIP, smaller.

Motion side: the DE-NORMALISED pair (B, T, 2, 262), contacts dropped (258 per person). Differences from the
original, each for a reason:
- The features are standardised inside the model with per-dimension statistics stored as buffers (set from the
  training data), because world-scale positions, velocities and 6D rotations differ by orders of magnitude and
  a small model trained briefly on a CPU otherwise fits mostly the large ones. Inputs stay de-normalised.
  ``rotation_floor_deg`` bounds how far a rotation channel that the data barely moves is magnified.
- Person order is irrelevant by construction: each frame's token is mlp(A‖B) + mlp(B‖A). Data sets swap the two
  persons at random and a text rarely says which comes first; an exactly symmetric evaluator makes metrics
  independent of that coin flip. (``symmetric=False`` gives the original single Linear on A‖B.)
- ``patch`` consecutive frames form one token (4 → 75 tokens for 300 frames) so a CPU can train it.
Then: a learnable query token is prepended, sinusoidal PE, a TransformerEncoder with a key padding mask from the
lengths (the query is always valid), LayerNorm, Linear to ``out_dim`` on the query output.

Text side: the frozen text encoder's word features (MiniLM by default) with their mask → Linear → sinusoidal PE
→ TransformerEncoder with key padding mask → LayerNorm → masked mean → Linear. (The original runs its own
transformer over CLIP token embeddings and takes the EOT row.)

Both embeddings are L2-normalised and multiplied by one learnable ``latent_scale``; training minimises the
symmetric CLIP cross-entropy on logits e_m·e_tᵀ = latent_scale²·cos. Checkpoint: a directory written by
``intermask.checkpoint.write_checkpoint`` (``config.json``, ``model.safetensors``, ``card.md``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from intermask.errors import InterMaskError
from intermask.motion.features import ROT

PERSON_DIM = 258  # 262-d features without the 4 foot contacts


@dataclass
class EvaluatorConfig:
    latent_dim: int = 256
    n_heads: int = 4
    ff_size: int = 512
    motion_layers: int = 3
    text_layers: int = 2
    out_dim: int = 256
    dropout: float = 0.1
    patch: int = 4  # frames per motion token
    symmetric: bool = True
    max_frames: int = 300
    init_scale: float = 3.78  # √(1/0.07): CLIP's initial logit temperature, as latent_scale² = 14.3
    text_encoder: str = "minilm"  # the frozen encoder whose word features the text side reads
    text_dim: int = 384
    max_words: int = 32
    # The least standard deviation, in degrees, that a 6D-rotation channel is divided by (0: none beyond the
    # 1e-3 guard). A channel the data barely moves (InterSynth's toes and collars never turn; its spine breathes
    # by under a degree) would otherwise make a rotation too small to see weigh as much as a metre of travel.
    rotation_floor_deg: float = 0.0


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


def _encoder(cfg: EvaluatorConfig, layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(cfg.latent_dim, cfg.n_heads, cfg.ff_size, cfg.dropout, activation="gelu",
                                       batch_first=True)
    # enable_nested_tensor would change results with padding between train and eval; keep one code path.
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class TextMotionEvaluator(nn.Module):
    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.latent_dim
        in_dim = 2 * PERSON_DIM * cfg.patch
        if cfg.symmetric:
            self.motion_in = nn.Sequential(nn.Linear(in_dim, d), nn.GELU(), nn.Linear(d, d))
        else:
            self.motion_in = nn.Linear(in_dim, d)
        self.query = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        n_tokens = cfg.max_frames // cfg.patch + 2
        self.register_buffer("pe", sinusoidal_table(max(n_tokens, 64), d), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.motion_tf = _encoder(cfg, cfg.motion_layers)
        self.motion_ln = nn.LayerNorm(d)
        self.motion_out = nn.Linear(d, cfg.out_dim)
        self.register_buffer("in_mean", torch.zeros(PERSON_DIM))
        self.register_buffer("in_std", torch.ones(PERSON_DIM))

        self.text_in = nn.Linear(cfg.text_dim, d)
        self.register_buffer("text_pe", sinusoidal_table(max(cfg.max_words, 8), d), persistent=False)
        self.text_tf = _encoder(cfg, cfg.text_layers)
        self.text_ln = nn.LayerNorm(d)
        self.text_out = nn.Linear(d, cfg.out_dim)
        self.latent_scale = nn.Parameter(torch.tensor(float(cfg.init_scale)))

    # ------------------------------------------------------------------------------------------------ motion
    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-dimension statistics (258,) of one person's de-normalised features, shared by both persons."""
        self.in_mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(PERSON_DIM))
        std = torch.as_tensor(std, dtype=torch.float32).reshape(PERSON_DIM).clamp_min(1e-3)
        # A 6D component moves by sin θ ≈ θ when its joint turns by θ radians: the floor is that angle's radians.
        std[ROT] = std[ROT].clamp_min(math.radians(self.cfg.rotation_floor_deg))
        self.in_std.copy_(std)

    def encode_motion(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """motion (B, T, 2, 262) or (B, 2, T, 262) de-normalised; lengths (B,) frames → (B, out_dim)."""
        if motion.dim() != 4 or motion.shape[-1] not in (262, PERSON_DIM) or 2 not in motion.shape[1:3]:
            raise InterMaskError(f"The evaluator takes motions of shape (B, T, 2, 262); got {tuple(motion.shape)}.")
        if motion.shape[1] == 2 and motion.shape[2] != 2:
            motion = motion.transpose(1, 2)
        b, t = motion.shape[:2]
        lengths = torch.as_tensor(lengths, device=motion.device).long().clamp(1, t)
        x = (motion[..., :PERSON_DIM].float() - self.in_mean) / self.in_std
        valid = torch.arange(t, device=x.device)[None, :] < lengths[:, None]  # (B, T)
        x = x * valid[:, :, None, None]
        p = self.cfg.patch
        n_tok = -(-t // p)
        if n_tok * p != t:
            x = F.pad(x, (0, 0, 0, 0, 0, n_tok * p - t))
        if n_tok + 1 > self.pe.shape[0]:
            raise InterMaskError(f"The evaluator handles at most {(self.pe.shape[0] - 1) * p} frames; got {t}.")
        # (B, n_tok, p, 2, 258) → per token: person A's p frames then B's (and the swap for symmetry).
        x = x.reshape(b, n_tok, p, 2, PERSON_DIM)
        a = x[:, :, :, 0].reshape(b, n_tok, -1)
        bb = x[:, :, :, 1].reshape(b, n_tok, -1)
        h = self.motion_in(torch.cat([a, bb], -1))
        if self.cfg.symmetric:
            h = h + self.motion_in(torch.cat([bb, a], -1))
        h = torch.cat([self.query.expand(b, -1, -1), h], 1) + self.pe[: n_tok + 1]
        tok_valid = torch.arange(n_tok, device=x.device)[None, :] * p < lengths[:, None]
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=x.device), ~tok_valid], 1)
        h = self.motion_tf(self.drop(h), src_key_padding_mask=pad)
        return self._finish(self.motion_out(self.motion_ln(h[:, 0])))

    # ------------------------------------------------------------------------------------------------ text
    def encode_text(self, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Frozen word features (B, W, text_dim) and their mask (B, W) → (B, out_dim)."""
        if words.shape[-1] != self.cfg.text_dim:
            raise InterMaskError(f"This evaluator reads {self.cfg.text_dim}-d word features from the "
                                 f"{self.cfg.text_encoder!r} encoder; got {words.shape[-1]}-d features.")
        w = min(words.shape[1], self.text_pe.shape[0])
        words, mask = words[:, :w].float(), mask[:, :w].bool()
        # A row with no valid token would make attention produce NaN; let such rows attend to their first slot.
        mask = mask.clone()
        mask[~mask.any(1), 0] = True
        h = self.text_in(words) + self.text_pe[:w]
        h = self.text_ln(self.text_tf(self.drop(h), src_key_padding_mask=~mask))
        m = mask.float().unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1)
        return self._finish(self.text_out(pooled))

    def _finish(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=-1) * self.latent_scale

    def forward(self, motion, lengths, words, mask) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_motion(motion, lengths), self.encode_text(words, mask)


def clip_loss(e_motion: torch.Tensor, e_text: torch.Tensor, text_ids: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric cross-entropy on logits e_m·e_tᵀ; returns (loss, top-1 motion→text accuracy).

    text_ids (B,), if given, marks samples that share the same description: those pairs are all positives
    (the target is spread over them), so a batch with a repeated prompt does not push identical texts apart.
    """
    logits = e_motion @ e_text.t()
    b = logits.shape[0]
    if text_ids is None:
        target = torch.eye(b, device=logits.device)
    else:
        target = (text_ids[:, None] == text_ids[None, :]).float()
    target = target / target.sum(1, keepdim=True)
    loss = 0.5 * (torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
                  + torch.sum(-target.t() * F.log_softmax(logits.t(), 1), 1).mean())
    hit = target[torch.arange(b), logits.argmax(1)] > 0
    return loss, hit.float().mean()


# ---------------------------------------------------------------------------------------------------- files
KIND = "text_motion_evaluator"


def save_evaluator(model: TextMotionEvaluator, out_dir: str | Path, card: str = "", extra: dict | None = None,
                   keep: tuple[str, ...] = ("log.jsonl",)) -> Path:
    """Write the checkpoint with the shared writer (``intermask.checkpoint``); ``extra`` top-level keys (such as
    ``training``) are kept as given, ``keep`` names files of an existing directory that survive."""
    from intermask.checkpoint import write_checkpoint

    meta = {**(extra or {}), "kind": KIND, "config": dataclasses.asdict(model.cfg)}
    return write_checkpoint(out_dir, model, meta, card=card or "# Text-motion evaluator\n", keep=keep)


def load_evaluator(path: str | Path) -> TextMotionEvaluator:
    """Load a checkpoint directory written by :func:`save_evaluator`; the model is returned in eval mode."""
    from intermask.checkpoint import CONFIG, WEIGHTS, load_weights, read_json_config
    from intermask.config import from_dict

    path = Path(path)
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise InterMaskError(f"No evaluator checkpoint in {path}: expected {CONFIG} and {WEIGHTS} there "
                             f"(train one with: python train/train_evaluator.py --data-root DATA --out {path}).")
    meta = read_json_config(path, KIND)
    model = TextMotionEvaluator(from_dict(EvaluatorConfig, meta["config"]))
    load_weights(model, path)
    return model.eval()


class EvaluatorWithText:
    """An evaluator plus its frozen text encoder (through a feature cache), so callers embed strings.

    The text encoder is the one recorded in the checkpoint; asking for another one is impossible here by
    construction, which is how a checkpoint/encoder mismatch is avoided.
    """

    def __init__(self, model: TextMotionEvaluator, cache=None):
        from intermask.config import TextConfig
        from intermask.text import load_text_encoder
        from intermask.text.cache import TextFeatureCache

        self.model = model.eval()
        if cache is None:
            enc = load_text_encoder(TextConfig(encoder=model.cfg.text_encoder, max_words=model.cfg.max_words))
            cache = TextFeatureCache(enc)
        if cache.encoder.dim != model.cfg.text_dim:
            raise InterMaskError(f"The evaluator was trained on {model.cfg.text_dim}-d {model.cfg.text_encoder!r} "
                                 f"features, but the given text encoder gives {cache.encoder.dim}-d features.")
        self.cache = cache

    @classmethod
    def from_dir(cls, path: str | Path) -> "EvaluatorWithText":
        return cls(load_evaluator(path))

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        feats = self.cache.get(list(texts))
        return self.model.encode_text(feats.words, feats.mask)

    @torch.no_grad()
    def embed_motions(self, motion: torch.Tensor, lengths: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        out = [self.model.encode_motion(motion[i:i + batch_size], lengths[i:i + batch_size])
               for i in range(0, motion.shape[0], batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.model.cfg.out_dim)
