"""The InterMask pipeline: one Python API under the web app and the command line.

    from intermask.api import InterMask
    model = InterMask.from_pretrained()            # the bundled InterSynth model
    [clip] = model.generate("two people shake hands with their right hands", seconds=3, seed=0)
    clip.save("handshake.npz")
    reply = model.react("partner.bvh", text="the other person dodges", seed=1)
    for frame in model.react_stream(live_partner_frames(), text="they dance"):   # (22, 3) joints in, frames out
        show(frame.joints)
    long = model.compose([("they walk toward each other", 3), ("they hug", 3), ("they walk away", 3)])
    hugged = model.edit("handshake.npz", start=1.0, end=2.5, text="they hug", seed=2)   # the rest is kept

Requests are independent: no global random state is touched (each call makes its own ``torch.Generator`` from
``seed``), models stay in eval mode, and nothing mutable is shared between calls, so concurrent requests are safe.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np
import torch

from intermask import edit as editing
from intermask.compose import compose
from intermask.errors import InterMaskError
from intermask.motion.features import FEATURE_DIM, FPS, features_from_joints, features_to_joints, features_to_rot6d, \
    fuse_velocities
from intermask.motion.footlock import foot_cleanup as clean_feet
from intermask.motion.frames import facing_frame
from intermask.motion.interaction import Interaction
from intermask.motion.loaders import load_pair, load_partner
from intermask.motion.refine import refine as refine_motion, smoothing_for
from intermask.sampling import Progress, masked_decode
from intermask.settings import REFINE, SamplingSettings, StreamSettings
from intermask.text.base import TextFeatures
from intermask.validation import (MAX_MOTIONS_PER_CALL, MAX_SAMPLES, MIN_SECONDS, check_range, check_seconds,
                                  check_text)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "intersynth" / "intermask"
# The evaluator every figure of the README is scored by (train/train_evaluator.py).
DEFAULT_EVALUATOR = REPO_ROOT / "checkpoints" / "intersynth" / "evaluator"


def repo_relative(path: str | os.PathLike) -> str:
    """``path`` relative to the repository when it lies inside it (as given otherwise): result files name the
    checkpoints they measured so that the record reads the same from any clone."""
    resolved = Path(path).resolve()
    return resolved.relative_to(REPO_ROOT).as_posix() if resolved.is_relative_to(REPO_ROOT) else str(path)


if TYPE_CHECKING:
    from intermask.streaming import ReactionFrame

_DEFAULT = SamplingSettings()
_STREAM = StreamSettings()


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
            where = f" (it points at {vq_dir}, which does not exist)" if vq_dir is not None else ""
            raise InterMaskError(f"Checkpoint {path} does not name an existing VQ-VAE checkpoint{where}: vq_dir in "
                                 "config.json is relative to the transformer's directory, so a copied checkpoint "
                                 "loses its VQ. Copy it with python train/bundle.py --src SRC --dst DST --vq VQ_DIR, "
                                 "which points it at VQ_DIR.")
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

    # ------------------------------------------------------------------------------------------------ geometry
    @property
    def frames_per_token(self) -> int:
        """Motion frames behind one time token (the VQ's time down-sampling)."""
        return self.vq.frames_per_token

    @property
    def groups(self) -> int:
        """Spatial token groups per time step and person."""
        return self.vq.groups

    @property
    def max_tokens(self) -> int:
        """The longest token map the transformer was trained on; longer pieces are composed window by window."""
        return self.transformer.cfg.max_motion_frames // self.frames_per_token

    @property
    def max_seconds(self) -> float:
        return self.max_tokens * self.frames_per_token / FPS

    def tokens_for(self, frames: int) -> int:
        """Time tokens that cover ``frames`` (the last token may reach past the end)."""
        return math.ceil(frames / self.frames_per_token)

    def pair_tokens(self, time_tokens: int) -> int:
        """Tokens in a two-person map of ``time_tokens`` time tokens (what ``SamplingSettings.steps_for`` counts)."""
        return 2 * self.groups * time_tokens

    # ------------------------------------------------------------------------------------------------ codes
    def encode_tokens(self, feats) -> torch.Tensor:
        """De-normalised features → codes: (N, T, 262) → (N, groups, T'), or pairs (B, 2, T, 262) → (B, 2, groups,
        T'), with T' = T / ``frames_per_token`` (T must be a multiple). The inverse of :meth:`decode_tokens`."""
        x = np.asarray(feats.detach().cpu() if isinstance(feats, torch.Tensor) else feats, dtype=np.float32)
        if x.ndim not in (3, 4) or x.shape[-1] != FEATURE_DIM or (x.ndim == 4 and x.shape[1] != 2):
            raise InterMaskError(f"encode_tokens takes features (N, T, {FEATURE_DIM}) or pairs (B, 2, T, "
                                 f"{FEATURE_DIM}); got shape {x.shape}.")
        if x.shape[-2] == 0 or x.shape[-2] % self.frames_per_token:
            raise InterMaskError(f"encode_tokens needs a positive multiple of {self.frames_per_token} frames; got "
                                 f"{x.shape[-2]}.")
        flat = torch.from_numpy(self.normalizer.normalize(x.reshape(-1, *x.shape[-2:])))
        with torch.no_grad():
            ids = self.vq.encode(flat)
        return ids.view(*x.shape[:-2], *ids.shape[1:])

    def decode_tokens(self, ids: torch.Tensor, frames: int | None = None) -> np.ndarray:
        """Codes (B, 2, groups, T') → de-normalised features (B, 2, frames_per_token · T', 262), cut to
        ``frames`` when given.

        Negative ids (padding) are read as code 0; decode each sample at its own length instead of padding it,
        since padded codes leak into the last frames through the decoder's receptive field.
        """
        ids = torch.as_tensor(ids)
        if ids.ndim != 4 or ids.shape[1] != 2 or ids.shape[2] != self.groups:
            raise InterMaskError(f"decode_tokens takes codes (B, 2, {self.groups}, T'); got shape "
                                 f"{tuple(ids.shape)}.")
        b, _, g, t = ids.shape
        with torch.no_grad():
            out = self.vq.decode(ids.long().clamp(min=0).reshape(b * 2, g, t))
        feats = self.normalizer.denormalize(out.float().numpy()).reshape(b, 2, -1, FEATURE_DIM)
        return self.finish_decoded(feats if frames is None else feats[:, :, :frames])

    @property
    def refine_smoothing(self) -> tuple[float, ...]:
        """The refinement's smoothing ladder for this model's decoding (``intermask.motion.refine.smoothing_for``)."""
        return smoothing_for(self.vq.cfg.velocity_fusion)

    def finish_decoded(self, feats: np.ndarray) -> np.ndarray:
        """De-normalised decoder output (..., T, 262) → the features the model gives: positions fitted to the
        decoded velocities too when the VQ checkpoint asks for it (``velocity_fusion``; features.fuse_velocities)."""
        return fuse_velocities(feats, self.vq.cfg.velocity_fusion)

    def text_features(self, texts: list[str]) -> TextFeatures:
        """The frozen text encoder's features of ``texts`` (what the transformer is conditioned on), with the
        second person's reading when the transformer has ``person_words``."""
        feats = self.text_encoder.encode(texts)
        if self.transformer.cfg.person_words:
            from intermask.data.person_order import person_views

            feats = person_views(feats, list(texts), self.text_encoder.encode)
        return feats

    # ------------------------------------------------------------------------------------------------ batches
    def sample_features(self, texts: list[str], frames: list[int], seed: int, settings: SamplingSettings,
                        progress: Progress | None = None) -> list[np.ndarray]:
        """Batched generation with a length per sample → de-normalised (2, frames_i, 262) features each.

        The evaluation uses this directly: it needs the ground-truth length of every test clip in one batch.
        """
        tokens = torch.tensor([self.tokens_for(f) for f in frames], dtype=torch.long)
        gen = torch.Generator().manual_seed(int(seed))
        ids = masked_decode(self.transformer, self.text_features(texts), tokens, int(tokens.max()), settings, gen,
                            progress=progress)
        if len(set(frames)) == 1:
            decoded = self.decode_tokens(ids, frames[0])
            return [decoded[i] for i in range(len(frames))]
        return [self.decode_tokens(ids[i:i + 1, :, :, : int(tokens[i])], f)[0] for i, f in enumerate(frames)]

    def react_features(self, partners: list[np.ndarray], texts: list[str], seed: int, settings: SamplingSettings,
                       progress: Progress | None = None) -> list[np.ndarray]:
        """Batched reaction: partner A (F_i, 262), de-normalised in the model's canonical frame → (2, F_i, 262)
        pairs [A as given, generated B].

        A's codes (A padded to whole tokens by repeating its last frame) are held fixed while B is decoded, so B
        comes out in A's frame. ``settings`` are used as given: :meth:`SamplingSettings.for_reaction` picks the
        reaction's time steps. :meth:`react` and the evaluation both come here.
        """
        frames = [int(a.shape[0]) for a in partners]
        tokens = [self.tokens_for(f) for f in frames]
        num_time = max(tokens)
        fixed = torch.full((len(partners), 2, self.groups, num_time), -1, dtype=torch.long)
        for i, (a, tok) in enumerate(zip(partners, tokens)):
            pad = tok * self.frames_per_token - a.shape[0]
            a_padded = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) if pad else a
            fixed[i, 0, :, :tok] = self.encode_tokens(a_padded[None])[0]
        gen = torch.Generator().manual_seed(int(seed))
        ids = masked_decode(self.transformer, self.text_features(texts), torch.tensor(tokens), num_time, settings,
                            gen, fixed=fixed, progress=progress)
        return [np.stack([a, self.decode_tokens(ids[i:i + 1, :, :, :tokens[i]], f)[0, 1]])
                for i, (a, f) in enumerate(zip(partners, frames))]

    # ------------------------------------------------------------------------------------------------ requests
    def _meta(self, **kw) -> dict:
        return {"checkpoint": self.checkpoint_dir.name, **kw}

    def generate(self, text: str | Sequence[str], seconds: float = 3.0, num_samples: int = 1, seed: int = 0,
                 cond_scale: float = _DEFAULT.cond_scale, time_steps: int = _DEFAULT.time_steps,
                 topk_ratio: float = _DEFAULT.topk_ratio, temperature: float = _DEFAULT.temperature,
                 foot_cleanup: bool = False, refine: bool = REFINE.default,
                 progress: Progress | None = None, second_pass: int = _DEFAULT.second_pass) -> list[Interaction]:
        """Text → interactions; one per (text, sample), texts outer. An empty text samples unconditionally.

        ``refine`` (on by default) makes the motion physically plausible (:mod:`intermask.motion.refine`);
        ``foot_cleanup``, when asked for, runs before it.
        """
        texts = [text] if isinstance(text, str) else list(text)
        if not texts:
            raise InterMaskError("Give at least one text (an empty string samples without text).")
        texts = [check_text(t) for t in texts]
        seconds = check_seconds(seconds, self.max_seconds)
        num_samples = int(check_range("Number of samples", num_samples, 1, MAX_SAMPLES))
        if len(texts) * num_samples > MAX_MOTIONS_PER_CALL:
            raise InterMaskError(f"At most {MAX_MOTIONS_PER_CALL} motions per call; asked for "
                                 f"{len(texts) * num_samples}.")
        settings = SamplingSettings(cond_scale, time_steps, topk_ratio, temperature, second_pass)
        frames = int(round(seconds * FPS))
        batch_texts = [t for t in texts for _ in range(num_samples)]
        decoded = self.sample_features(batch_texts, [frames] * len(batch_texts), seed, settings, progress)
        out = []
        for i, t in enumerate(batch_texts):
            meta = self._meta(seed=int(seed), sample=i % num_samples, **settings.as_dict(), seconds=seconds)
            clip = Interaction(joints=features_to_joints(decoded[i]), rot6d=features_to_rot6d(decoded[i]), fps=FPS,
                               text=t, features=decoded[i], meta=meta)
            out.append(self._finish(clip, foot_cleanup, refine))
        return out

    def _finish(self, clip: Interaction, foot_cleanup: bool, refine: bool, fixed: tuple[int, ...] = ()
                ) -> Interaction:
        """The optional clean-ups of decoded motion, in order; persons in ``fixed`` are never altered."""
        if foot_cleanup:
            cleaned = clean_feet(clip)
            for p in fixed:  # never alter the uploaded partner
                cleaned.joints[p], cleaned.rot6d[p] = clip.joints[p], clip.rot6d[p]
            clip = cleaned
        return refine_motion(clip, fixed=fixed, smoothing=self.refine_smoothing) if refine else clip

    def react(self, partner, text: str = "", seconds: float | None = None, seed: int = 0,
              cond_scale: float = _DEFAULT.cond_scale, time_steps: int | None = None,
              topk_ratio: float = _DEFAULT.topk_ratio, temperature: float = _DEFAULT.temperature,
              foot_cleanup: bool = False, refine: bool = REFINE.default,
              progress: Progress | None = None) -> Interaction:
        """Person B reacting to ``partner`` (an Interaction → its person A, an array, or a file path).

        A's tokens are held fixed while B is decoded, in half the default time steps unless ``time_steps`` is
        given (:meth:`SamplingSettings.for_reaction`). A in the result is the partner's own motion, bit for bit
        (``refine`` and ``foot_cleanup`` move only B), and B is placed in the partner's world frame.
        """
        text = check_text(text)
        motion = load_partner(partner)
        available = motion.joints.shape[0] / FPS
        if available < MIN_SECONDS:
            raise InterMaskError(f"The partner motion lasts {available:.2f} s; reactions need at least "
                                 f"{MIN_SECONDS:g} s ({int(MIN_SECONDS * FPS)} frames at {FPS} fps).")
        if seconds is None:
            seconds = min(available, self.max_seconds)
        seconds = check_seconds(seconds, min(self.max_seconds, max(available, MIN_SECONDS)))
        settings = SamplingSettings(cond_scale, _DEFAULT.time_steps, topk_ratio, temperature).for_reaction(time_steps)
        frames = int(round(seconds * FPS))
        if frames > motion.joints.shape[0]:
            raise InterMaskError(f"The partner motion has {motion.joints.shape[0]} frames; {frames} are needed "
                                 f"for {seconds:g} s.")
        joints_a = motion.joints[:frames]
        rot_a = motion.rot6d[:frames]
        # Features need the next frame for velocities: repeat the last one (zero final velocity).
        world_a = features_from_joints(np.concatenate([joints_a, joints_a[-1:]]),
                                       np.concatenate([rot_a, rot_a[-1:]]))
        # The model works in A's canonical frame (A at the origin facing +Z); B goes back to the world after.
        frame = facing_frame(joints_a)
        [pair] = self.react_features([frame.features_to_canonical(world_a)], [text], seed, settings, progress)
        feat_b = frame.features_to_world(pair[1])
        meta = self._meta(seed=int(seed), **settings.as_dict(), seconds=seconds, mode="react", partner=motion.source)
        clip = Interaction(joints=np.stack([joints_a, features_to_joints(feat_b)]),
                           rot6d=np.stack([rot_a, features_to_rot6d(feat_b)]), fps=FPS, text=text,
                           features=np.stack([world_a, feat_b]), meta=meta)
        return self._finish(clip, foot_cleanup, refine, fixed=(0,))

    def react_stream(self, partner_frames: Iterable, text: str = "", seed: int = 0,
                     cond_scale: float = _DEFAULT.cond_scale, topk_ratio: float = _DEFAULT.topk_ratio,
                     temperature: float = _DEFAULT.temperature, context_tokens: int = _STREAM.context_tokens,
                     stream_steps: int = _STREAM.stream_steps, stall_timeout: float = _STREAM.stall_timeout
                     ) -> Iterator["ReactionFrame"]:
        """Person B reacting live to a partner whose frames arrive one by one (:mod:`intermask.streaming`).

        partner_frames: any iterable (a generator reading a sensor, a socket, a file) of (22, 3) joint positions,
        Y-up metres, 30 fps, or (n, 22, 3) chunks of them. Yields :class:`~intermask.streaming.ReactionFrame`
        objects (``index``, ``joints`` (22, 3) and ``rot6d`` in the partner's world, ``partner_frame``,
        ``latency``) as soon as they can be made: frame f once partner frame 4⌊f/4⌋ + 3 has arrived (a lookahead
        of at most 3 frames, 100 ms), and the last frames when the partner stream ends; one reaction frame per
        partner frame. Only what has arrived is used, the context is the last ``context_tokens`` tokens (constant
        cost per frame and memory however long the stream runs), the same seed gives the same frames, and the
        result is not refined (refinement needs the whole clip). A frame with NaN, a wrong shape, a body not in
        metres or no frame for ``stall_timeout`` seconds ends the stream with an InterMaskError.
        """
        from intermask.streaming import react_stream

        text = check_text(text)
        sampling = SamplingSettings(cond_scale, _DEFAULT.time_steps, topk_ratio, temperature)
        stream = StreamSettings(context_tokens, stream_steps, stall_timeout)
        if isinstance(partner_frames, (str, bytes, os.PathLike)) or not hasattr(partner_frames, "__iter__"):
            raise InterMaskError("react_stream reads an iterable of partner frames ((22, 3) joints each, or "
                                 "(n, 22, 3) chunks); for a file use react(), or replay it with "
                                 "`python -m intermask react --stream`.")
        return react_stream(self, partner_frames, text, seed, sampling, stream)

    def compose(self, timeline: Sequence[tuple[str, float]], seed: int = 0, cond_scale: float = _DEFAULT.cond_scale,
                time_steps: int = _DEFAULT.time_steps, topk_ratio: float = _DEFAULT.topk_ratio,
                temperature: float = _DEFAULT.temperature, foot_cleanup: bool = False,
                refine: bool = REFINE.default, progress: Progress | None = None,
                second_pass: int = _DEFAULT.second_pass) -> Interaction:
        """One long interaction from (text, seconds) segments (see :mod:`intermask.compose`)."""
        settings = SamplingSettings(cond_scale, time_steps, topk_ratio, temperature, second_pass)
        clip = compose(self, timeline, seed=seed, settings=settings, progress=progress)
        return self._finish(clip, foot_cleanup, refine)

    def edit(self, clip, start: float, end: float, text: str = "", person: int | None = None, seed: int = 0,
             cond_scale: float = _DEFAULT.cond_scale, time_steps: int = _DEFAULT.time_steps,
             topk_ratio: float = _DEFAULT.topk_ratio, temperature: float = _DEFAULT.temperature,
             foot_cleanup: bool = False, refine: bool = REFINE.default,
             progress: Progress | None = None, second_pass: int = _DEFAULT.second_pass) -> Interaction:
        """``clip`` with the span [start, end) seconds regenerated from ``text``; everything else kept exactly.

        clip: an Interaction or a file (``.npz`` exchange file, ``.npy`` joints (2, T, 22, 3), two-person ``.bvh``);
        the result has the same length. ``person``: None regenerates both people inside the span and keeps every
        frame outside it; 0 or 1 regenerates only that person inside the span and keeps the other person in every
        frame. Kept frames are the input's, bit for bit (also with ``foot_cleanup``, which then cleans only the
        regenerated frames; so also with ``refine``, on by default, which refines only the regenerated frames and
        fades its correction in from each seam). The span's tokens, rounded outward to whole tokens, are re-sampled with every other
        token of a window of at most :attr:`max_seconds` around the span held fixed, so the new motion follows
        the text and fits its context; at each seam it is moved onto the kept motion's continuation over a few
        frames (:mod:`intermask.edit`). An empty ``text`` in-paints without text (not allowed when nothing is
        kept). The same seed gives the same result.
        """
        text = check_text(text)
        source = load_pair(clip)
        settings = SamplingSettings(cond_scale, time_steps, topk_ratio, temperature, second_pass)
        plan = editing.plan_edit(source.num_frames, start, end, person, text, self.frames_per_token,
                                 self.max_tokens)
        return editing.edit(self, source, plan, text, seed, settings, foot_cleanup=bool(foot_cleanup),
                            refine=bool(refine), progress=progress)
