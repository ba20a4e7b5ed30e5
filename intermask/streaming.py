"""Streamed reaction: the partner's motion arrives frame by frame and the reacting person's frames follow, causally.

Every ``frames_per_token`` (4) partner frames complete one time token t, and the reacting person's 4 frames of that
token are made from what has arrived:

1. the window is the last W = ``context_tokens`` tokens up to t. Its canonical frame is the partner's facing at the
   window's first frame, with the floor at the window's lowest partner joint: the model was trained on clips
   canonicalised at their first frame, and a person who wandered off minutes ago must not leave the window;
2. both persons' window motion is moved into that frame and VQ-encoded: the partner's W tokens (its last frame
   has zero velocity, as offline reaction pads a clip's end) and the reacting person's W − 1 tokens before t,
   re-encoded from the frames actually emitted, so the model continues what was shown, not a version of it;
3. masked decoding fills the reacting person's token t (``groups`` codes) in ``stream_steps`` rounds with every other
   token of the window given. The window ends at t: the unknown future is truncated, as at the end of a clip;
4. the reacting person's last ``DECODE_TOKENS`` tokens are VQ-decoded and the 4 frames of token t go back to the
   partner's world. The decoder does not reproduce the frames already emitted exactly, so the new frames are bent
   onto them: the new decoding of the last emitted frame is off by a position and a velocity, and a correction that
   continues both at the seam (position + k·velocity after k frames) and fades by ``SEAM_DECAY`` per frame is
   added, so neither the position nor, mostly, the velocity jumps where the tokens meet.

Lookahead: frame f of the reaction is made once partner frame 4⌊f/4⌋ + 3 has arrived (3 frames, 100 ms at 30 fps,
for a token's first frame; none for its last). Cost per token depends on W, not on how long the stream has run,
and the state holds W tokens of frames: minutes of partner motion take constant time per frame and constant memory.
One ``torch.Generator`` seeded once per stream draws every sample in token order, so the same seed and partner give
the same reaction however the partner's frames are chunked.

Refinement (:mod:`intermask.motion.refine`) is not applied: it smooths over and measures whole clips, so it would
need the future. The partner is never changed (it is not even returned).
"""
from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch

from intermask.errors import InterMaskError
from intermask.motion.features import FPS, POS, VEL, features_from_joints, features_to_joints, \
    features_to_rot6d
from intermask.motion.frames import facing_frame
from intermask.motion.loaders import MAX_BODY_EXTENT_M, MAX_FRAMES, MIN_BODY_EXTENT_M
from intermask.motion.solver import solve_skeleton
from intermask import skeleton as sk
from intermask.sampling import masked_decode, prepare_conditioning
from intermask.settings import SamplingSettings, StreamSettings

# Tokens of the reacting person that are VQ-decoded to make the newest token's frames. The decoder's receptive
# field is a few tokens wide, so decoding the whole window would cost more and change the newest frames little.
DECODE_TOKENS = 6
# The VQ's convolutions see zero padding past the newest frame, which spoils the edge: a window's newest token,
# decoded as the last one, jitters (median velocity jump 0.038 m/frame² against 0.002 inside a clip, measured on a
# bundled-model clip), and encoded as the last frames it agrees with the whole clip's code 64 % of the time. Holding
# the edge instead — the newest token repeated DECODE_PAD_TOKENS times, the newest frame ENCODE_PAD_FRAMES times —
# brings these to 0.004 and 95 %; the extra tokens and frames are dropped.
DECODE_PAD_TOKENS = 3
ENCODE_PAD_FRAMES = 8
# Per-frame fade of the seam correction (see the module doc): 0.8 spreads it over about two tokens.
SEAM_DECAY = 0.8
# Partner items read ahead of the model at most (a reader thread waits for the consumer beyond this).
READ_AHEAD = 64


@dataclass(frozen=True)
class ReactionFrame:
    """One frame of the reacting person, in the partner's world (Y-up metres)."""
    index: int  # frame number, counted like the partner's frames (0 = the stream's first)
    joints: np.ndarray  # (22, 3)
    rot6d: np.ndarray  # (21, 6) local rotations of joints 1..21
    partner_frame: int  # the newest partner frame this frame depends on
    latency: float  # seconds from the arrival of ``partner_frame`` to this frame being handed out


class ReactionStream:
    """The state of one streamed reaction: feed the partner one token of frames at a time with :meth:`push`.

    Works on (joints, rotations) in any Y-up metre frame; :func:`react_stream` adds reading and checking a stream.
    """

    def __init__(self, model, text: str, seed: int, sampling: SamplingSettings, stream: StreamSettings):
        self.model = model
        self.fpt = model.frames_per_token
        self.window = min(int(stream.context_tokens), model.max_tokens)
        self.sampling = dataclasses.replace(sampling, time_steps=stream.stream_steps)
        self._generator = torch.Generator().manual_seed(int(seed))
        # The text condition is the same for every token: computed once.
        self._conditioning = prepare_conditioning(model.transformer, model.text_features([text]),
                                                  self.sampling.cond_scale)
        self._partner_joints: deque = deque(maxlen=self.window * self.fpt)
        self._partner_rot: deque = deque(maxlen=self.window * self.fpt)
        self._reaction: deque = deque(maxlen=(self.window - 1) * self.fpt)  # emitted world features (262,)
        self._offsets: np.ndarray | None = None  # the partner's rest skeleton, measured on its first token
        self.tokens = 0

    def context_frames(self) -> int:
        """Frames of motion the state holds (bounded by the window, whatever the stream's length)."""
        return len(self._partner_joints) + len(self._reaction)

    def partner_rotations(self, joints: np.ndarray) -> np.ndarray:
        """Local rotations of a token of partner joints, on the skeleton measured from the first token."""
        local, offsets = solve_skeleton(joints, offsets=self._offsets)
        self._offsets = offsets
        return sk.matrix_to_rot6d(local[:, 1:]).astype(np.float32)

    def _encode(self, feats: np.ndarray, tokens: int) -> torch.Tensor:
        """Canonical features (tokens · fpt, 262) → codes (groups, tokens), with the newest frame held past the edge."""
        held = np.concatenate([feats, np.repeat(feats[-1:], ENCODE_PAD_FRAMES, axis=0)])
        return self.model.encode_tokens(held[None])[0, :, :tokens]

    @torch.no_grad()
    def push(self, joints: np.ndarray, rot6d: np.ndarray | None = None) -> np.ndarray:
        """One token of partner frames (fpt, 22, 3) [and rotations (fpt, 21, 6)] → the reacting person's frames of
        that token as world features (fpt, 262)."""
        model, fpt = self.model, self.fpt
        joints = np.asarray(joints, dtype=np.float32)
        rot6d = self.partner_rotations(joints) if rot6d is None else np.asarray(rot6d, dtype=np.float32)
        self._partner_joints.extend(joints)
        self._partner_rot.extend(rot6d)
        a_joints, a_rot = np.stack(self._partner_joints), np.stack(self._partner_rot)
        n = a_joints.shape[0] // fpt  # tokens in the window, the newest one last
        frame = facing_frame(a_joints)
        a_world = features_from_joints(np.concatenate([a_joints, a_joints[-1:]]), np.concatenate([a_rot, a_rot[-1:]]))

        fixed = torch.full((1, 2, model.groups, n), -1, dtype=torch.long)
        fixed[0, 0] = self._encode(frame.features_to_canonical(a_world), n)
        if n > 1:
            b_world = np.stack(self._reaction)[-(n - 1) * fpt:]
            fixed[0, 1, :, :n - 1] = self._encode(frame.features_to_canonical(b_world), n - 1)
        ids = masked_decode(model.transformer, None, torch.tensor([n]), n, self.sampling, self._generator,
                            fixed=fixed, conditioning=self._conditioning)

        d = min(n, DECODE_TOKENS)
        b_ids = ids[:, 1, :, n - d:]
        b_ids = torch.cat([b_ids, b_ids[:, :, -1:].expand(-1, -1, DECODE_PAD_TOKENS)], dim=2)
        decoded = model.vq.decode(b_ids).float().numpy()[0, :d * fpt]
        decoded = frame.features_to_world(model.finish_decoded(model.normalizer.denormalize(decoded)))
        new = decoded[-fpt:].copy()
        pos = new[:, POS].reshape(fpt, 22, 3)
        if self._reaction:
            last = self._reaction[-1]
            # The new decoding's version of the last emitted frame, and of the velocity into it.
            seam = last[POS] - decoded[-fpt - 1, POS]
            turn = (last[POS] - self._reaction[-2][POS]) - (decoded[-fpt - 1, POS] - decoded[-fpt - 2, POS])
            k = np.arange(1, fpt + 1)[:, None, None]
            pos += (seam.reshape(1, 22, 3) + k * turn.reshape(1, 22, 3)) * SEAM_DECAY ** k
            last[VEL] = pos[0].reshape(-1) - last[POS]  # the previous last frame's velocity is known now
        new[:, POS] = pos.reshape(fpt, -1)
        new[:-1, VEL] = (pos[1:] - pos[:-1]).reshape(fpt - 1, -1)
        self._reaction.extend(np.array(row) for row in new)
        self.tokens += 1
        return new


# ---------------------------------------------------------------------------------------------------- reading
_END = object()


def timed_items(items: Iterable, stall_timeout: float) -> Iterator[tuple[object, float]]:
    """Each item of ``items`` with the ``time.perf_counter()`` at which it arrived.

    A reader thread pulls the items, so a source that stops sending (a pipe left open, a stalled generator) ends
    the stream with an InterMaskError after ``stall_timeout`` seconds instead of hanging; errors the source raises
    are raised here.
    """
    buffer: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put((item, time.perf_counter())):
                    return
            put((_END, 0.0))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((exc, 0.0))

    threading.Thread(target=read, name="partner-stream-reader", daemon=True).start()
    try:
        while True:
            try:
                item, arrived = buffer.get(timeout=stall_timeout)
            except queue.Empty:
                raise InterMaskError(f"No partner frame arrived for {stall_timeout:g} s, so the stream was ended; a "
                                     "live stream must keep sending frames (raise the stall timeout for slower "
                                     "sources).") from None
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item, arrived
    finally:
        stop.set()


def partner_frames_of(item, first_index: int) -> np.ndarray:
    """One item of a partner stream — a (22, 3) frame or a (n, 22, 3) chunk of joints — as (n, 22, 3) float32."""
    try:
        arr = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError):
        raise InterMaskError(f"Partner item at frame {first_index} is not an array of numbers; send (22, 3) joint "
                             "positions per frame, or (n, 22, 3) chunks.") from None
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (22, 3) or not 1 <= arr.shape[0] <= MAX_FRAMES:
        raise InterMaskError(f"Partner item at frame {first_index} has shape {arr.shape}; each item must be one "
                             f"frame (22, 3) of joint positions or a chunk (n, 22, 3) with 1 ≤ n ≤ {MAX_FRAMES}.")
    bad = ~np.isfinite(arr).all(axis=(1, 2))
    if bad.any():
        raise InterMaskError(f"Partner frame {first_index + int(np.argmax(bad))} contains NaN or infinite values; "
                             "every frame must be 22 finite joint positions in metres.")
    return arr.astype(np.float32)


def check_body_size(joints: np.ndarray, first_index: int) -> None:
    """Refuse a token of frames that is not a person in metres (centimetres, normalised features...)."""
    extent = float(np.median(np.linalg.norm(joints.max(1) - joints.min(1), axis=-1)))
    if not MIN_BODY_EXTENT_M <= extent <= MAX_BODY_EXTENT_M:
        raise InterMaskError(f"The partner's body at frames {first_index}–{first_index + len(joints) - 1} measures "
                             f"{extent:.3g} units across, which is not a person in metres (expected "
                             f"{MIN_BODY_EXTENT_M}–{MAX_BODY_EXTENT_M} m, Y up).")


def react_stream(model, partner_frames: Iterable, text: str, seed: int, sampling: SamplingSettings,
                 stream: StreamSettings) -> Iterator[ReactionFrame]:
    """The generator behind :meth:`intermask.api.InterMask.react_stream` (arguments already checked)."""
    state = ReactionStream(model, text, seed, sampling, stream)
    fpt = state.fpt
    pending: list[np.ndarray] = []
    count = 0  # partner frames received
    arrival = 0.0

    def emit(real: int) -> Iterator[ReactionFrame]:
        token = np.stack(pending + [pending[-1]] * (fpt - len(pending)))  # a last partial token repeats its end
        first = count - len(pending)
        check_body_size(token[:len(pending)], first)
        feats = state.push(token)[:real]
        joints, rot6d = features_to_joints(feats), features_to_rot6d(feats)
        for k in range(real):
            yield ReactionFrame(first + k, joints[k], rot6d[k], count - 1, time.perf_counter() - arrival)

    for item, arrival in timed_items(partner_frames, stream.stall_timeout):
        for frame in partner_frames_of(item, count):
            pending.append(frame)
            count += 1
            if len(pending) == fpt:
                yield from emit(fpt)
                pending.clear()
    if count == 0:
        raise InterMaskError("The partner stream ended before its first frame; send at least one (22, 3) frame of "
                             "joint positions.")
    if pending:
        yield from emit(len(pending))


def replay(frames, start: float, realtime: bool = True) -> Iterator[np.ndarray]:
    """The frames of a recorded motion as a live source would send them: frame i at ``start`` + i / 30 s
    (``time.perf_counter()`` clock), or at once if not ``realtime``."""
    for i, frame in enumerate(frames):
        if realtime:
            time.sleep(max(0.0, start + i / FPS - time.perf_counter()))
        yield frame


def stream_reaction_features(model, partner: np.ndarray, text: str, seed: int, sampling: SamplingSettings,
                             stream: StreamSettings) -> np.ndarray:
    """The evaluation's streamed reaction: partner features (F, 262), de-normalised, fed token by token with their
    own rotations → the pair (2, F, 262) [partner as given, streamed reaction]."""
    state = ReactionStream(model, text, seed, sampling, stream)
    fpt, frames = state.fpt, partner.shape[0]
    tokens = -(-frames // fpt)
    padded = np.concatenate([partner, np.repeat(partner[-1:], tokens * fpt - frames, axis=0)])
    joints, rot6d = features_to_joints(padded), features_to_rot6d(padded)
    out = np.concatenate([state.push(joints[k * fpt:(k + 1) * fpt], rot6d[k * fpt:(k + 1) * fpt])
                          for k in range(tokens)])[:frames]
    return np.stack([partner, out]).astype(np.float32)
