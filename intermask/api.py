"""The InterMask pipeline: one Python API under the web app and the command line.

    from intermask.api import InterMask
    model = InterMask.from_pretrained()            # the bundled InterSynth model
    [clip] = model.generate("two people shake hands with their right hands", seconds=3, seed=0)
    clip.save("handshake.npz")
    reply = model.react("partner.bvh", text="the other person dodges", seed=1)
    long = model.compose([("they walk toward each other", 3), ("they hug", 3), ("they walk away", 3)])

Requests are independent: no global random state is touched (each call makes its own ``torch.Generator`` from
``seed``), models stay in eval mode, and nothing mutable is shared between calls, so concurrent requests are safe.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from intermask.errors import InterMaskError
from intermask.motion.features import FEATURE_DIM, features_from_joints, features_to_joints, features_to_rot6d
from intermask.motion.frames import GroundFrame, facing_frame
from intermask.motion.interaction import FPS, Interaction
from intermask.sampling import Progress, SamplingConfig, masked_decode

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "intersynth" / "intermask"
MIN_SECONDS, MAX_SECONDS = 1.0, 10.0
MAX_COMPOSE_SECONDS = 60.0
MAX_SAMPLES = 16
MAX_TEXT_CHARS = 1000
FRAMES_PER_TOKEN = 4


def _check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InterMaskError(f"{name} must be a number; got {value!r}.") from None
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise InterMaskError(f"{name} must be in {lo}{low:g}, {high:g}{hi}; got {value:g}.")
    return value


@dataclass
class GenerationSettings:
    """Validated sampling settings shared by generate, react and compose."""
    cond_scale: float = 2.0
    time_steps: int = 20
    topk_ratio: float = 0.9
    temperature: float = 1.0

    def __post_init__(self) -> None:
        self.cond_scale = _check_range("Guidance scale (cond_scale)", self.cond_scale, 0.0, 20.0)
        steps = _check_range("Time steps", self.time_steps, 1, 100)
        if steps != int(steps):
            raise InterMaskError(f"Time steps must be a whole number between 1 and 100; got {self.time_steps}.")
        self.time_steps = int(steps)
        self.topk_ratio = _check_range("Top-k ratio", self.topk_ratio, 0.0, 1.0, high_open=True)
        self.temperature = _check_range("Temperature", self.temperature, 0.0, 10.0)

    def sampling(self, time_steps: int | None = None) -> SamplingConfig:
        return SamplingConfig(time_steps or self.time_steps, self.cond_scale, self.topk_ratio, self.temperature)


def _check_text(text: str) -> str:
    if not isinstance(text, str):
        raise InterMaskError(f"The text must be a string; got {type(text).__name__}.")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        raise InterMaskError(f"The text is {len(text)} characters long; at most {MAX_TEXT_CHARS} are accepted.")
    return text


class InterMask:
    """A loaded model: VQ-VAE, Inter-M transformer, normaliser and the frozen text encoder."""

    def __init__(self, vq, transformer, normalizer, text_encoder, checkpoint_dir: Path, info: dict | None = None):
        self.vq = vq.eval()
        self.transformer = transformer.eval()
        self.normalizer = normalizer
        self.text_encoder = text_encoder
        self.checkpoint_dir = Path(checkpoint_dir)
        self.info = info or {}

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, text_encoder=None) -> "InterMask":
        """Load a transformer checkpoint directory (None → the bundled InterSynth model).

        ``text_encoder`` overrides the encoder the checkpoint records (tests pass a toy encoder); its name must
        match the checkpoint's, otherwise the features would silently mismatch.
        """
        from intermask.checkpoint import load_transformer, load_vq, read_config

        path = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if not path.exists():
            raise InterMaskError(f"Checkpoint directory {path} does not exist. Pass the directory that holds "
                                 "config.json and model.safetensors of a transformer checkpoint.")
        transformer, config, normalizer, vq_dir = load_transformer(path)
        if vq_dir is None or not Path(vq_dir).exists():
            raise InterMaskError(f"Checkpoint {path} does not name an existing VQ-VAE checkpoint (vq_dir in "
                                 "config.json); keep the VQ directory next to the transformer's.")
        vq, _, _ = load_vq(vq_dir)
        encoder_name = read_config(path)[1].get("text_encoder", config.text.encoder)
        if text_encoder is None:
            from intermask.text import load_text_encoder

            text_encoder = load_text_encoder(config.text)
        elif text_encoder.name != encoder_name:
            raise InterMaskError(f"Checkpoint {path} was trained with the {encoder_name!r} text "
                                 f"encoder, not {text_encoder.name!r}.")
        torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
        info = {"config": config, "vq_dir": Path(vq_dir)}
        return cls(vq, transformer, normalizer, text_encoder, path, info)

    # ------------------------------------------------------------------------------------------------
    def _decode(self, ids: torch.Tensor, frames: int) -> np.ndarray:
        """Codes (B, 2, 5, T') → de-normalised features (B, 2, frames, 262)."""
        b, _, g, t = ids.shape
        with torch.no_grad():
            out = self.vq.decode(ids.clamp(min=0).reshape(b * 2, g, t))
        feats = self.normalizer.denormalize(out.float().numpy()).reshape(b, 2, -1, FEATURE_DIM)
        return feats[:, :, :frames]

    def _encode(self, feats: np.ndarray) -> torch.Tensor:
        """De-normalised features (N, T, 262) with T a multiple of 4 → codes (N, 5, T/4)."""
        x = torch.from_numpy(self.normalizer.normalize(np.asarray(feats, dtype=np.float32)))
        with torch.no_grad():
            return self.vq.encode(x)

    @staticmethod
    def _to_interaction(feats: np.ndarray, text: str, meta: dict) -> Interaction:
        """(2, T, 262) de-normalised features in one world frame → Interaction."""
        return Interaction(joints=features_to_joints(feats), rot6d=features_to_rot6d(feats), fps=FPS, text=text,
                           features=feats, meta=meta)

    def _meta(self, **kw) -> dict:
        return {"checkpoint": self.checkpoint_dir.name, **kw}

    @staticmethod
    def _frames(seconds: float) -> tuple[int, int]:
        frames = int(round(seconds * FPS))
        return frames, math.ceil(frames / FRAMES_PER_TOKEN)

    # ------------------------------------------------------------------------------------------------
    def generate(self, text: str | Sequence[str], seconds: float = 3.0, num_samples: int = 1, seed: int = 0,
                 cond_scale: float = 2.0, time_steps: int = 20, topk_ratio: float = 0.9, temperature: float = 1.0,
                 foot_cleanup: bool = False, progress: Progress | None = None) -> list[Interaction]:
        """Text → interactions; one per (text, sample), texts outer. An empty text samples unconditionally."""
        texts = [text] if isinstance(text, str) else list(text)
        if not texts:
            raise InterMaskError("Give at least one text (an empty string samples without text).")
        texts = [_check_text(t) for t in texts]
        seconds = _check_range("Duration (seconds)", seconds, MIN_SECONDS, MAX_SECONDS)
        num_samples = int(_check_range("Number of samples", num_samples, 1, MAX_SAMPLES))
        if len(texts) * num_samples > MAX_SAMPLES * 4:
            raise InterMaskError(f"At most {MAX_SAMPLES * 4} motions per call; asked for {len(texts) * num_samples}.")
        settings = GenerationSettings(cond_scale, time_steps, topk_ratio, temperature)
        frames, _ = self._frames(seconds)
        batch_texts = [t for t in texts for _ in range(num_samples)]
        decoded = self.sample_features(batch_texts, [frames] * len(batch_texts), seed, settings, progress)
        out = []
        for i, t in enumerate(batch_texts):
            meta = self._meta(seed=int(seed), sample=i % num_samples, **vars(settings), seconds=seconds)
            clip = self._to_interaction(decoded[i], t, meta)
            out.append(self._cleanup(clip) if foot_cleanup else clip)
        return out

    def sample_features(self, texts: list[str], frames: list[int], seed: int, settings: GenerationSettings,
                        progress: Progress | None = None) -> list[np.ndarray]:
        """Batched generation with a length per sample → de-normalised (2, frames_i, 262) features each.

        The evaluation uses this directly: it needs the ground-truth length of every test clip in one batch.
        """
        tokens = torch.tensor([math.ceil(f / FRAMES_PER_TOKEN) for f in frames], dtype=torch.long)
        num_time = int(tokens.max())
        gen = torch.Generator().manual_seed(int(seed))
        ids = masked_decode(self.transformer, self._text_features(texts), tokens, num_time, settings.sampling(),
                            gen, progress=progress)
        if len(set(frames)) == 1:
            decoded = self._decode(ids, frames[0])
            return [decoded[i] for i in range(len(frames))]
        # Decode each sample at its own length: padded codes would leak into the last frames through the
        # decoder's receptive field.
        return [self._decode(ids[i:i + 1, :, :, : int(tokens[i])], f)[0] for i, f in enumerate(frames)]

    def _text_features(self, texts: list[str]):
        return self.text_encoder.encode(texts)

    def _cleanup(self, clip: Interaction) -> Interaction:
        from intermask.motion.footlock import foot_cleanup

        return foot_cleanup(clip)

    # ------------------------------------------------------------------------------------------------
    def react(self, partner, text: str = "", seconds: float | None = None, seed: int = 0, cond_scale: float = 2.0,
              time_steps: int | None = None, topk_ratio: float = 0.9, temperature: float = 1.0,
              foot_cleanup: bool = False, progress: Progress | None = None) -> Interaction:
        """Person B reacting to ``partner`` (an Interaction → its person A, an array, or a file path).

        A's tokens are held fixed while B is decoded (spec §4.4; half the time steps by default, as the official
        code). A in the result is the partner's own motion, and B is placed in the partner's world frame.
        """
        from intermask.motion.loaders import load_partner

        text = _check_text(text)
        motion = load_partner(partner)
        available = motion.joints.shape[0] / FPS
        if available < MIN_SECONDS:
            raise InterMaskError(f"The partner motion lasts {available:.2f} s; reactions need at least "
                                 f"{MIN_SECONDS:g} s ({int(MIN_SECONDS * FPS)} frames at {FPS} fps).")
        if seconds is None:
            seconds = min(available, MAX_SECONDS)
        seconds = _check_range("Duration (seconds)", seconds, MIN_SECONDS, min(MAX_SECONDS, max(available, 1.0)))
        settings = GenerationSettings(cond_scale, time_steps or 10, topk_ratio, temperature)
        frames, tokens = self._frames(seconds)
        if frames > motion.joints.shape[0]:
            raise InterMaskError(f"The partner motion has {motion.joints.shape[0]} frames; {frames} are needed "
                                 f"for {seconds:g} s.")
        joints_a = motion.joints[:frames]
        rot_a = motion.rot6d[:frames]
        # Features need the next frame for velocities: repeat the last one (zero final velocity).
        world_a = features_from_joints(np.concatenate([joints_a, joints_a[-1:]]),
                                       np.concatenate([rot_a, rot_a[-1:]]))
        frame = facing_frame(joints_a)
        feat_a = frame.features_to_canonical(world_a)  # (frames, 262)
        pad = tokens * FRAMES_PER_TOKEN - frames
        feat_a_padded = np.concatenate([feat_a, np.repeat(feat_a[-1:], pad, axis=0)]) if pad else feat_a
        ids_a = self._encode(feat_a_padded[None])  # (1, 5, T')
        fixed = torch.full((1, 2, 5, tokens), -1, dtype=torch.long)
        fixed[:, 0] = ids_a
        gen = torch.Generator().manual_seed(int(seed))
        lengths = torch.tensor([tokens])
        ids = masked_decode(self.transformer, self._text_features([text]), lengths, tokens,
                            settings.sampling(), gen, fixed=fixed, progress=progress)
        feat_b = frame.features_to_world(self._decode(ids, frames)[0, 1])
        feats = np.stack([world_a, feat_b])
        meta = self._meta(seed=int(seed), **vars(settings), seconds=seconds, mode="react", partner=motion.source)
        clip = Interaction(joints=np.stack([joints_a, features_to_joints(feat_b)]),
                           rot6d=np.stack([rot_a, features_to_rot6d(feat_b)]), fps=FPS, text=text,
                           features=feats, meta=meta)
        if foot_cleanup:
            clip = self._cleanup(clip)
            clip.joints[0], clip.rot6d[0] = joints_a, rot_a  # never alter the uploaded partner
        return clip

    # ------------------------------------------------------------------------------------------------
    def compose(self, timeline: Sequence[tuple[str, float]], seed: int = 0, cond_scale: float = 2.0,
                time_steps: int = 20, topk_ratio: float = 0.9, temperature: float = 1.0,
                foot_cleanup: bool = False, progress: Progress | None = None) -> Interaction:
        from intermask.compose import compose

        return compose(self, timeline, seed=seed, settings=GenerationSettings(cond_scale, time_steps, topk_ratio,
                                                                             temperature),
                       foot_cleanup=foot_cleanup, progress=progress)
