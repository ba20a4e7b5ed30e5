"""Editing an interaction: regenerate a time span (both persons, or one person) from a new text and keep the rest.

Three steps, each a function here:

1. :func:`plan_edit` turns the request (seconds, person) into frames and tokens and refuses what cannot be done.
   The regenerated frames are exactly [start, end); the regenerated *tokens* are that span rounded outward to whole
   tokens, inside a window of at most ``model.max_tokens`` tokens around it (the rest of a long clip is only copied).
2. :func:`regenerate`: the window is moved into the frame the model was trained in (person 0 at the window's first
   frame at the origin facing +Z), both persons are tokenised by the VQ, the span's tokens (of both persons, or of
   the edited one) are masked and the transformer fills them under the new text with every other token held fixed
   (the in-painting of compose and react); the window is decoded and moved back into the clip's world.
3. :func:`splice` copies the input and overwrites only the edited person(s) inside [start, end) with the decoded
   motion, so every kept frame is the input's, bit for bit. The VQ does not reproduce the kept motion exactly, so
   the decoded span starts and ends off the kept frames (by centimetres, or tens of centimetres far from the
   origin); a smooth displacement over the span and a cross-fade of ``SEAM_FRAMES`` frames at each seam join it
   to the kept motion in position and velocity (:func:`_onto_seams`).

``model`` is an :class:`intermask.api.InterMask`; only its public methods are used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.motion.features import FPS, features_from_joints, features_to_joints, features_to_rot6d
from intermask.motion.footlock import foot_cleanup as clean_feet
from intermask.motion.frames import facing_frame
from intermask.motion.interaction import Interaction
from intermask.motion.refine import refine_span
from intermask.sampling import Progress, masked_decode
from intermask.settings import SamplingSettings

# Frames of the cross-fade at each seam (0.4 s). On 64 seams of 32 InterSynth test edits with the bundled model
# (bench/edit_eval.py, results/edit.json) the largest velocity jump around the seam was within the ground truth's
# 99th percentile for 5% of seams pasted in as decoded, 72% with the displacement alone, 88% with an 8-frame and
# 92% with a 12-frame cross-fade; 16 frames gave 95% but shows the old motion for over half a second.
SEAM_FRAMES = 12
PERSONS = "person must be None (regenerate both people), 0 or 1"


@dataclass(frozen=True)
class EditPlan:
    """Frames and tokens of one edit; token indices count from the start of the clip."""
    num_frames: int
    start: int  # first regenerated frame
    stop: int  # one past the last regenerated frame
    persons: tuple[int, ...]  # who is regenerated inside [start, stop)
    span_tokens: tuple[int, int]  # [first, last) token masked
    window: tuple[int, int]  # [first, last) token the model sees
    frames_per_token: int

    @property
    def window_frames(self) -> tuple[int, int]:
        return self.window[0] * self.frames_per_token, self.window[1] * self.frames_per_token


def _seconds(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InterMaskError(f"The span's {name} must be a number of seconds; got {value!r}.") from None
    if not math.isfinite(value):
        raise InterMaskError(f"The span's {name} must be a finite number of seconds; got {value}.")
    return value


def plan_edit(num_frames: int, start, end, person, text: str, frames_per_token: int, max_tokens: int) -> EditPlan:
    """Check an edit request against a clip of ``num_frames`` frames; every refusal names what is accepted."""
    seconds = num_frames / FPS
    accepted = f"accepted: 0 ≤ start < end ≤ {seconds:.2f} s, the clip's length"
    start, end = _seconds("start", start), _seconds("end", end)
    if end <= start:
        raise InterMaskError(f"The span must end after it starts; got start {start:g} s and end {end:g} s "
                             f"({accepted}).")
    if start < 0 or end > seconds + 0.5 / FPS:  # half a frame of slack: the end is often typed rounded
        raise InterMaskError(f"The span [{start:g}, {end:g}) s is not inside the clip, which lasts {seconds:.2f} s "
                             f"({accepted}).")
    if person is not None and (isinstance(person, bool) or person not in (0, 1)):
        raise InterMaskError(f"{PERSONS}; got {person!r}.")
    first, stop = int(round(start * FPS)), min(int(round(end * FPS)), num_frames)
    if stop - first < frames_per_token:
        raise InterMaskError(f"The span [{start:g}, {end:g}) s covers {stop - first} frame(s); at least one token "
                             f"({frames_per_token} frames, {frames_per_token / FPS:.2f} s) is needed.")
    persons = (0, 1) if person is None else (int(person),)
    if not text and person is None and first == 0 and stop == num_frames:
        raise InterMaskError("With an empty text and the whole clip regenerated for both people nothing is kept "
                             "to edit from: give a description, a shorter span, or one person to regenerate.")
    clip_tokens = math.ceil(num_frames / frames_per_token)
    t0, t1 = first // frames_per_token, math.ceil(stop / frames_per_token)
    if t1 - t0 > max_tokens:
        raise InterMaskError(f"The span lasts {(stop - first) / FPS:.2f} s; at most "
                             f"{(max_tokens - 1) * frames_per_token / FPS:.2f} s can be regenerated at once (the "
                             "model's window); edit a long span in parts.")
    # Context on both sides of the span, as much as the window holds, split evenly where the clip allows.
    room = min(max_tokens, clip_tokens) - (t1 - t0)
    after = min(clip_tokens - t1, room // 2)
    before = min(t0, room - after)
    after = min(clip_tokens - t1, room - before)
    return EditPlan(num_frames, first, stop, persons, (t0, t1), (t0 - before, t1 + after), frames_per_token)


def _window(clip: Interaction, plan: EditPlan) -> tuple[np.ndarray, np.ndarray]:
    """Joints and rotations of the window plus one frame (features need the next frame for velocities); past the
    clip's end its last frame repeats (zero final velocity, as reactions pad a partner)."""
    f0, f1 = plan.window_frames
    index = np.minimum(np.arange(f0, f1 + 1), clip.num_frames - 1)
    return clip.joints[:, index], clip.rot6d[:, index]


def regenerate(model, clip: Interaction, plan: EditPlan, text: str, seed: int, settings: SamplingSettings,
               progress: Progress | None = None) -> np.ndarray:
    """The window decoded with the span's tokens re-sampled under ``text``: world features (2, frames, 262)."""
    joints, rot6d = _window(clip, plan)
    world = np.stack([features_from_joints(joints[p], rot6d[p]) for p in range(2)])
    frame = facing_frame(joints[0], floor=float(joints[..., 1].min()))
    codes = model.encode_tokens(frame.features_to_canonical(world))  # (2, groups, window tokens)
    tokens = codes.shape[-1]
    fixed = codes[None].clone()
    t0, t1 = (t - plan.window[0] for t in plan.span_tokens)
    for p in plan.persons:
        fixed[0, p, :, t0:t1] = -1
    generator = torch.Generator().manual_seed(int(seed))
    ids = masked_decode(model.transformer, model.text_features([text]), torch.tensor([tokens]), tokens, settings,
                        generator, fixed=fixed, progress=progress)
    return frame.features_to_world(model.decode_tokens(ids, world.shape[1])[0])


def _fade(n: int) -> np.ndarray:
    """(n,) weights from 1 down towards 0 on a half cosine: flat at both ends, so no velocity kink."""
    return 0.5 + 0.5 * np.cos(np.pi * np.arange(n) / n)


def _onto_seams(new: np.ndarray, old: np.ndarray, start: int, stop: int, seam_frames: int) -> np.ndarray:
    """``new`` frames [start, stop) of one person, joined to the input ``old`` (the whole clip) at each seam that
    has kept frames beyond it, in two steps:

    - a displacement that runs smoothly across the whole span moves its first and last frames onto the input's
      frames there. The decoded span can be tens of centimetres away from where the kept motion is (the VQ
      reconstructs positions far from the origin coarsely, and the new action may end elsewhere); spread over
      the span, that offset costs little velocity per frame, where a jump at the seam would be a teleport;
    - a cross-fade over ``seam_frames`` frames from the input's own frames, which continue the kept motion
      exactly, hands its velocity over to the new motion's.
    """
    out = new.astype(np.float64)
    span = old[start:stop].astype(np.float64)
    length = stop - start
    before, after = start > 0, stop < old.shape[0]
    if not (before or after):
        return out
    shape = (length,) + (1,) * (out.ndim - 1)
    first = span[0] - out[0] if before else None
    last = span[-1] - out[-1] if after else None
    first = last if first is None else first
    last = first if last is None else last
    ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / max(length - 1, 1))).reshape(shape)
    out += (1 - ramp) * first + ramp * last
    n = min(seam_frames, length // (int(before) + int(after)))
    if n > 0:
        w = _fade(n).reshape((n,) + (1,) * (out.ndim - 1))
        if before:
            out[:n] = w * span[:n] + (1 - w) * out[:n]
        if after:
            out[-n:] = w[::-1] * span[-n:] + (1 - w[::-1]) * out[-n:]
    return out


def splice(clip: Interaction, decoded: np.ndarray, plan: EditPlan, seam_frames: int = SEAM_FRAMES,
           foot_cleanup: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The input's joints and rotations with the edited person(s) replaced inside [start, stop) by ``decoded``
    (world features of the window), continued smoothly at the seams. Nothing outside that is written."""
    f0, _ = plan.window_frames
    new_joints, new_rot = features_to_joints(decoded), features_to_rot6d(decoded)
    if foot_cleanup:  # on the decoded window, before splicing, so that kept frames stay untouched
        cleaned = clean_feet(Interaction(new_joints, new_rot))
        new_joints, new_rot = cleaned.joints, cleaned.rot6d
    joints, rot6d = clip.joints.copy(), clip.rot6d.copy()
    a, b = plan.start - f0, plan.stop - f0
    for p in plan.persons:
        joints[p, plan.start:plan.stop] = _onto_seams(new_joints[p, a:b], clip.joints[p], plan.start, plan.stop,
                                                      seam_frames)
        rot = _onto_seams(new_rot[p, a:b], clip.rot6d[p], plan.start, plan.stop, seam_frames)
        rot6d[p, plan.start:plan.stop] = sk.matrix_to_rot6d(sk.rot6d_to_matrix(rot))  # back to true rotations
    return joints, rot6d


def world_features(joints: np.ndarray, rot6d: np.ndarray) -> np.ndarray:
    """Features (2, T, 262) of a pair in its own world frame (the last frame repeated for its velocity)."""
    return np.stack([features_from_joints(np.concatenate([joints[p], joints[p, -1:]]),
                                          np.concatenate([rot6d[p], rot6d[p, -1:]])) for p in range(2)])


def edit(model, clip: Interaction, plan: EditPlan, text: str, seed: int, settings: SamplingSettings,
         foot_cleanup: bool = False, refine: bool = False, progress: Progress | None = None) -> Interaction:
    """:func:`regenerate`, :func:`splice`, then with ``refine`` the refinement of the regenerated frames only
    (:func:`intermask.motion.refine.refine_span`, faded in over SEAM_FRAMES from each seam): kept frames stay
    the input's, bit for bit, either way."""
    decoded = regenerate(model, clip, plan, text, seed, settings, progress)
    joints, rot6d = splice(clip, decoded, plan, foot_cleanup=foot_cleanup)
    refined = None
    if refine:
        joints, report = refine_span(joints, rot6d, plan.start, plan.stop, plan.persons, SEAM_FRAMES, FPS,
                                     model.refine_smoothing)
        refined = {"persons": list(plan.persons), "frames": [plan.start, plan.stop], "seam_frames": SEAM_FRAMES,
                   "smoothing_frames": report["sigma"]}
    person = None if len(plan.persons) == 2 else plan.persons[0]
    meta = {"checkpoint": model.checkpoint_dir.name, "seed": int(seed), "mode": "edit", **settings.as_dict(),
            "span_seconds": [plan.start / FPS, plan.stop / FPS], "span_frames": [plan.start, plan.stop],
            "person": person, "source_text": clip.text, "source": clip.meta.get("source", ""),
            "foot_cleanup": bool(foot_cleanup), **({"refine": refined} if refined else {})}
    return Interaction(joints=joints, rot6d=rot6d, fps=FPS, text=text, features=world_features(joints, rot6d),
                       meta=meta)
