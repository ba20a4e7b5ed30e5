"""Refinement: physically plausible two-person motion from whatever the model decodes.

Raw model output is decoded positions: bones change length, feet slide, the two bodies can pass through each
other and the motion jitters (README, "Physical plausibility"). :func:`refine` fixes that with small, smooth
corrections, one person at a time, in this order:

1. a light temporal smoothing of the joints (Gaussian, ``sigma`` frames), which removes decoding jitter;
2. a rigid skeleton: the person's own bone lengths (robust medians over the clip), rotations solved from the
   joints (the model's 6D rotations as twist hints) and joints re-made by forward kinematics from them, so bone
   lengths are constant and joints and rotations agree; the root's horizontal path is kept and its height
   grounded: the lowest foot stays where the decoding put it (:func:`ground`); the wrists too stay where the
   decoding put them, the arms re-solved by two-bone IK (:func:`keep_hands`), so the touches it made stay, and
   so do feet lifted well off the floor (:func:`keep_raised_feet`: a kick keeps its height);
3. body separation: the bone capsules of the overlap metric (:func:`intermask.metrics.physics.body_capsules`)
   are pushed apart by a smooth, time-varying horizontal offset of the movable person's root (shared by both
   persons when both are generated). A wrist that touched the other person before the push (handshake, high
   five, hug, push) keeps its world position: the arm is re-solved by two-bone IK, so intended contacts stay;
4. planted feet: foot joints that are in contact (low and slow, the definition of the skating metric) are held
   at their contact position horizontally, by two-bone IK of the leg; a foot that slid far in one contact steps
   from hold to hold (faster than "slow") instead of sliding, and a toe that would go under the floor lifts its
   heel. Held feet do not follow a push, so 3 and 4 alternate (planting last);
5. grounded again, and no foot below the floor: the root is lifted by a smooth envelope of the deepest foot
   penetration;
6. the rotations are solved once more from the final joints (exact on a rigid skeleton) and the joints are their
   forward kinematics, so the joints are exactly a rigid skeleton's.

The 6D rotations handed out stay the model's own: the project reads them as twist hints (rendering and BVH export
swing every bone onto its joint), and the text-motion evaluator, trained on InterSynth's rotations, scores the
solved ones at chance (R@3 0.81 → 0.13 on 32 test clips) although they reproduce the joints exactly. The solved
rotations are in :func:`refine_pair`'s report for callers who need joints and rotations to agree.

A person listed in ``fixed`` (the uploaded partner of a reaction) is returned bit-identical; only the others move.
Finally the moved persons' jerk is compared with their raw jerk; if it rose, the whole refinement is re-run
with more smoothing, the next σ of ``smoothing`` (the clip's meta ``refine`` records jerk before, after and the
smoothing used).
:func:`refine_span` refines only an edited span, faded in from its seams, so an edit's kept frames stay exact.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.metrics import physics
from intermask.motion.features import FEATURE_DIM, foot_contacts, features_from_joints, features_to_joints, \
    features_to_rot6d
from intermask.motion.footlock import LEGS, two_bone_ik
from intermask.motion.interaction import Interaction
from intermask.motion.solver import solve_skeleton

# Smoothing of the raw joints (Gaussian σ in frames at 30 fps), tried in order: enough to take out decoding
# jitter, not the motion. If the moved persons' jerk rose (planted feet stop and start), the pass is redone at
# the next σ, and the least jerky result kept. Positions-only decoding jitters: σ = 1 then 1.5 leaves the
# acceleration and jerk within 5% of the ground truth's on the InterSynth test split, where σ = 2 left them ~30%
# below (README, "Refinement"). Decoding that fuses the decoded velocities (VQConfig.velocity_fusion) has little
# jitter left and the same ladder smooths real motion away (the bundled model's generations, 64 validation
# clips: jerk 142 raw, 112 refined, ground truth 176); starting at half of it left the refined jerk near the raw
# one (138), with skating, penetration and control as before. A decoder that also holds planted feet (the bundled
# VQ since commit 7e378d9) leaves no jitter to take out (raw jerk 127 on those clips): every smoothed pass then
# "raises" the jerk, since planted feet stop and start as the ground truth's do, so the ladder climbed to its top
# and the refined jerk fell to 122. Unsmoothed, it is 180 (reactions 174; ground truth 176), with skating and
# control as good or better: fused decoding is not smoothed (bench/refine_smoothing.py; README, "Refinement").
# :func:`smoothing_for` picks the ladder.
SMOOTHING = (1.0, 1.5)
FUSED_SMOOTHING = (0.0,)
# Time scale (frames) of the separation offsets and of the floor lift: a push builds up over ~1/3 s.
OFFSET_SIGMA = 4.0
GROUND_SIGMA = 2.0  # frames: the grounding follows leg-length changes of the decoding, not its jitter
SEPARATION_MARGIN = 0.005  # m of clearance kept between capsules
DONE = 0.001  # m: the overlap metric counts overlaps deeper than 1 mm
SEPARATION_ROUNDS = 4  # per-frame pushes along the deepest overlap
SMOOTH_ROUNDS = 4  # top-ups of the smoothed offset where smoothing left an overlap
# A wrist closer than this to the other person's body surface (capsules, hands included) before separation is
# touching on purpose. Measured on 48 InterSynth test clips: the closest wrist-to-partner gap of a clip labelled
# with contact has median 0.057 m (90% below 0.105 m); no clip labelled without contact comes closer than 0.109 m.
CONTACT_DISTANCE = 0.09
KEEP_ROUNDS = 2  # separation passes with the kept arms in place
CONTACT_EASE = 3.0  # frames over which a kept contact hands over to the pushed arm
FOOT_BLEND_FRAMES = 4
HOLD_RADIUS = 0.15  # m a foot may slide in one contact before the hold becomes a new step (a leg reaches it)
# A step between two holds: at least STEP_MIN m per frame (just above the contact metric's slow bound,
# features.foot_contacts), over at most STEP_FRAMES frames.
STEP_MIN = 1.1 * float(np.sqrt(sk.FOOT_VELOCITY_THRESHOLD))
STEP_FRAMES = 4
# Planting can slow a foot next to a hold into the metric's contact: its contacts are taken again on the planted
# feet and planted once more (this many passes at most).
PLANT_ITERATIONS = 2
PLANT_ROUNDS = 2  # rounds of planting feet and separating again
OFFSET_FRAMES = 24  # frames the bone lengths are measured on
ARMS = ((16, 18, 20), (17, 19, 21))  # shoulder, elbow, wrist
FOOT_JOINTS = physics.FOOT_JOINTS
_CAPSULES = physics.body_capsules()  # (bones, radii) of the overlap metric
_ARM_CAPSULES = np.isin(_CAPSULES[0][:, 1], [j for chain in ARMS for j in chain[:2]])  # collar→shoulder→elbow


def smoothing_for(velocity_fusion: float) -> tuple[float, ...]:
    """The smoothing ladder for motion decoded with this velocity-fusion weight (``VQConfig.velocity_fusion``)."""
    return FUSED_SMOOTHING if velocity_fusion > 0 else SMOOTHING


# ---------------------------------------------------------------------------------------------------- helpers
def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0 or x.shape[0] < 2:
        return np.array(x, dtype=np.float64)
    return gaussian_filter1d(np.asarray(x, dtype=np.float64), sigma, axis=0, mode="nearest")


def _envelope(x: np.ndarray, sigma: float) -> np.ndarray:
    """A smooth curve that (nearly) covers a non-negative signal (T, ...): running maximum, then Gaussian."""
    if x.shape[0] < 2 or not x.any():
        return x.copy()
    width = 2 * int(np.ceil(2 * sigma)) + 1
    return np.maximum(_smooth(maximum_filter1d(x, size=width, axis=0, mode="nearest"), sigma), 0.0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


# ---------------------------------------------------------------------------------------------------- skeleton
def rigid_skeleton(joints: np.ndarray, rot6d: np.ndarray, sigma: float = SMOOTHING[0]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's joints (T, 22, 3) and rotations (T, 21, 6) → (joints by forward kinematics (T, 22, 3),
    local rotations (T, 22, 3, 3), offsets (22, 3)): smoothed, on the person's own constant bone lengths."""
    smooth = _smooth(joints, sigma)
    # The person's skeleton (robust medians) from at most OFFSET_FRAMES evenly spread frames: as good as all
    # of them for a median, and it keeps the refinement within its time budget.
    pick = np.unique(np.linspace(0, len(smooth) - 1, min(len(smooth), OFFSET_FRAMES)).round().astype(int))
    _, offsets = solve_skeleton(smooth[pick], rot6d[pick], robust=True)
    local, _ = solve_skeleton(smooth, rot6d, offsets)
    fk, _ = sk.forward_kinematics(local, smooth[:, 0], offsets)
    return fk, local, offsets


def _limb_lengths(offsets: np.ndarray, chain: Sequence[int]) -> list[float]:
    return [float(np.linalg.norm(offsets[j])) for j in chain[1:]]


def _reach(root: np.ndarray, target: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """Targets pulled toward ``root`` where a two-bone limb of lengths l1, l2 cannot reach them."""
    d_vec = target - root
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    return root + d_vec * np.minimum(1.0, (l1 + l2 - 1e-4) / np.maximum(d, 1e-9))


def _raised(root: np.ndarray, target: np.ndarray, length: float) -> np.ndarray:
    """Targets (T, 3) a limb of ``length`` from ``root`` cannot reach, raised until it can, where a raise
    suffices: a held foot stays where it stands and its heel lifts, instead of being dragged along."""
    flat = np.linalg.norm((target - root)[:, [0, 2]], axis=-1)
    lowest = root[:, 1] - np.sqrt(np.maximum((length - 1e-4) ** 2 - flat ** 2, 0.0))
    out = target.copy()
    out[:, 1] = np.where(flat < length - 1e-4, np.maximum(target[:, 1], lowest), target[:, 1])
    return out


def _reach_with(out: np.ndarray, chain: Sequence[int], target: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The two-bone limb ``chain`` (root, middle, end) of ``out`` re-solved in place so that its end goes to
    ``target`` (T, 3) as far as the limb reaches (lengths from ``offsets``, the middle joint bending as before);
    returns the end's new positions."""
    root, mid, end = chain
    l1, l2 = _limb_lengths(offsets, chain)
    reached = _reach(out[:, root], target, l1, l2)
    out[:, mid] = two_bone_ik(out[:, root], out[:, mid], reached, l1, l2)
    out[:, end] = reached
    return reached


# ---------------------------------------------------------------------------------------------------- separation
def _near_frames(ja: np.ndarray, jb: np.ndarray, reach: float) -> np.ndarray:
    """Frames where the two bodies' bounding boxes, grown by ``reach``, meet (the only ones that can overlap)."""
    lo_a, hi_a = ja.min(axis=1) - reach, ja.max(axis=1) + reach
    lo_b, hi_b = jb.min(axis=1), jb.max(axis=1)
    return np.flatnonzero(((lo_a <= hi_b) & (lo_b <= hi_a)).all(axis=-1))


def overlap_push(ja: np.ndarray, jb: np.ndarray, free: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per frame, the horizontal move of person B (T, 3) that clears the deepest capsule overlap with A.

    The move is along the horizontal part of the line between the overlapping capsules' closest points (the
    roots' direction when that line is vertical), as long as the overlap is deep plus the margin. ``free``:
    per person (T, capsules) True where a capsule belongs to an arm that holds on to the other person; such an
    arm may overlap the other's arms (InterSynth's ground-truth hugs do), nothing else.
    """
    bones, radii = _CAPSULES
    push = np.zeros_like(ja[:, 0])
    near = _near_frames(ja, jb, 2 * radii.max() + SEPARATION_MARGIN)
    if not len(near):
        return push
    ja, jb = ja[near], jb[near]
    a0, a1, b0, b1 = ja[:, bones[:, 0]], ja[:, bones[:, 1]], jb[:, bones[:, 0]], jb[:, bones[:, 1]]
    # Broad phase: only capsule pairs whose bounding spheres meet get the exact segment test.
    bound_a = np.sqrt(((a1 - a0) ** 2).sum(-1)) / 2 + radii
    bound_b = np.sqrt(((b1 - b0) ** 2).sum(-1)) / 2 + radii
    gap = ((a0 + a1) / 2)[:, :, None] - ((b0 + b1) / 2)[:, None]
    reach = bound_a[:, :, None] + bound_b[:, None] + SEPARATION_MARGIN
    candidate = (gap * gap).sum(-1) < reach * reach
    if free is not None:
        # A holding arm may cross the other's arms (as in a hug), not reach into the other's trunk or legs.
        arm = _ARM_CAPSULES
        candidate &= ~(free[0][near][:, :, None] & arm[None, None]) & ~(free[1][near][:, None] & arm[None, :, None])
    t, i, k = np.nonzero(candidate)
    if not len(t):
        return push
    cp, cq = physics.segment_closest_points(a0[t, i], a1[t, i], b0[t, k], b1[t, k])
    depth = radii[i] + radii[k] + SEPARATION_MARGIN - np.linalg.norm(cq - cp, axis=-1)
    # The deepest candidate of each frame: sort by depth, keep each frame's last.
    order = np.lexsort((depth, t))
    last = order[np.r_[t[order][1:] != t[order][:-1], True]]
    frames, deepest = t[last], depth[last]
    normal = (cq - cp)[last]
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    direction = normal * np.array([1.0, 0.0, 1.0])
    flat = np.linalg.norm(direction, axis=-1)
    fallback = (jb[frames, 0] - ja[frames, 0]) * np.array([1.0, 0.0, 1.0])
    fallback[np.linalg.norm(fallback, axis=-1) < 1e-6] = (1.0, 0.0, 0.0)
    weak = flat < 0.2
    direction[weak] = fallback[weak]
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    # Moving sideways opens an inclined contact only by the horizontal part of its normal: push that much more.
    push[near[frames]] = direction * (np.maximum(deepest, 0.0) / np.where(weak, 1.0, flat))[:, None]
    return push


def separation_offset(ja: np.ndarray, jb: np.ndarray, free: tuple[np.ndarray, np.ndarray] | None = None,
                      sigma: float = OFFSET_SIGMA) -> np.ndarray:
    """A smooth horizontal offset (T, 3) that, added to B (or split between A and B), separates the bodies
    (``free`` capsules excepted, see :func:`overlap_push`)."""
    need = np.zeros_like(ja[:, 0])
    active = np.arange(ja.shape[0])
    for _ in range(SEPARATION_ROUNDS):  # per frame: push along the deepest overlap until none is left
        part = None if free is None else (free[0][active], free[1][active])
        step = overlap_push(ja[active], jb[active] + need[active, None], part)
        need[active] += step
        active = active[np.linalg.norm(step, axis=-1) > DONE]  # only frames still overlapping can need more
        if not len(active):
            break
    if not need.any():
        return need
    # Smooth in time: the direction from the smoothed offset, the size from an envelope of the per-frame need,
    # then top up what the smoothing left uncovered (a few rounds) so no overlap returns between frames.
    offset = np.zeros_like(need)
    for _ in range(SMOOTH_ROUNDS):
        direction = _smooth(need - offset, sigma)
        norm = np.linalg.norm(direction, axis=-1, keepdims=True)
        direction = np.where(norm > 1e-9, direction / np.maximum(norm, 1e-9), 0.0)
        size = _envelope(np.maximum((need - offset) * direction, 0.0).sum(-1), sigma)
        offset = offset + direction * size[:, None]
        rest = overlap_push(ja, jb + offset[:, None], free)
        if np.linalg.norm(rest, axis=-1).max() < SEPARATION_MARGIN - DONE:  # no overlap deeper than DONE left
            break
        need = offset + rest
    return offset


def touching_wrists(joints: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(T, 2) weights in [0, 1]: how much each wrist (left, right) of ``joints`` touches the body ``other``.

    A wrist touches when it is within CONTACT_DISTANCE of the surface of any of the other's bone capsules (hands
    included); the weights are eased over CONTACT_EASE frames so a kept hand hands over smoothly.
    """
    bones = np.array(sk.BONES)
    p0, p1 = other[:, bones[:, 0]], other[:, bones[:, 1]]  # (T, 21, 3)
    seg = p1 - p0
    out = np.zeros((joints.shape[0], 2))
    for k, (_, _, wrist) in enumerate(ARMS):
        w = joints[:, wrist][:, None]
        s = np.clip(((w - p0) * seg).sum(-1) / np.maximum((seg * seg).sum(-1), 1e-12), 0.0, 1.0)
        gap = np.linalg.norm(p0 + s[..., None] * seg - w, axis=-1) - physics.CAPSULE_RADII
        out[:, k] = gap.min(axis=1) < CONTACT_DISTANCE
    return np.clip(_envelope(out, CONTACT_EASE), 0.0, 1.0)


def holding_capsules(touching: np.ndarray) -> np.ndarray:
    """(T, capsules) True for the shoulder and upper-arm capsules of an arm whose wrist touches the other body."""
    bones, _ = _CAPSULES
    free = np.zeros((touching.shape[0], len(bones)), dtype=bool)
    for k, (shoulder, elbow, _) in enumerate(ARMS):
        arm = np.isin(bones[:, 1], (shoulder, elbow))
        free |= (touching[:, k] > 0)[:, None] & arm[None]
    return free


def keep_wrists(joints: np.ndarray, before: np.ndarray, weight: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Arms of ``joints`` (already moved) re-solved so that each wrist goes back toward its position in
    ``before`` by ``weight`` (T, 2); upper arm and forearm keep their lengths (two-bone IK)."""
    out = joints.copy()
    for k, arm in enumerate(ARMS):
        w = weight[:, k:k + 1]
        if w.any():
            _reach_with(out, arm, w * before[:, arm[2]] + (1 - w) * joints[:, arm[2]], offsets)
    return out


def keep_hands(joints: np.ndarray, reference: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The rigid skeleton's arms re-solved so that both wrists are where ``reference`` (the smoothed decoding)
    has them, as far as the arms reach.

    Forward kinematics on the person's median bone lengths moves each wrist by the length differences of the
    bones from the pelvis out; reaching for the partner, the decoder stretches the forearm by up to 12 cm, so a
    high five decoded with the hands 18 cm apart ended 24 cm apart. The hands are what an interaction is about,
    so they keep their place and the elbows bend (or straighten) to reach it.
    """
    return keep_wrists(joints, reference, np.ones((joints.shape[0], 2)), offsets)


RAISED_FOOT = (0.2, 0.3)  # m of ankle height over the floor where a foot starts / ends following the decoding


def keep_raised_feet(joints: np.ndarray, reference: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Ankles that the decoding lifted well off the floor (a kick, a knee raise) put back where ``reference`` has
    them, the legs re-solved by two-bone IK; each toe moves with its ankle. Forward kinematics on the median leg
    lengths lowered a decoded kick from 38 to 19 cm. Feet near the floor are left to grounding and planting:
    following the decoding there floats a person whose decoded legs are longer than the median ones."""
    out = joints.copy()
    lo, hi = RAISED_FOOT
    for hip, knee, ankle, toe in LEGS:
        w = np.clip((reference[:, ankle, 1] - lo) / (hi - lo), 0.0, 1.0)[:, None]
        if w.any():
            was = out[:, ankle].copy()
            reached = _reach_with(out, (hip, knee, ankle), w * reference[:, ankle] + (1 - w) * was, offsets)
            out[:, toe] += reached - was
    return out


def separate(joints: np.ndarray, movable: list[int], offsets: dict) -> np.ndarray:
    """Both persons' joints (2, T, 22, 3) with the movable ones pushed apart and touching wrists kept.

    An arm whose hand touches the other person is part of an intended contact: it may cross the other's arms (in
    a hug the upper arms do, as in InterSynth's ground truth) without a push. The arm a kept contact bends can
    reach into the other body, so the push is measured again on the moved bodies and topped up (KEEP_ROUNDS).
    """
    before = joints
    touching = {p: touching_wrists(before[p], before[1 - p]) for p in (0, 1)}
    free = tuple(holding_capsules(touching[p]) for p in (0, 1))
    share = {p: (1.0 if p == 1 else -1.0) / len(movable) for p in movable}
    total = np.zeros_like(joints[0, :, 0])
    out = joints
    for _ in range(KEEP_ROUNDS):
        shift = separation_offset(out[0], out[1], free)
        if not shift.any():
            break
        total = total + shift
        out = joints.copy()
        for p in movable:
            out[p] = keep_wrists(before[p] + share[p] * total[:, None], before[p], touching[p], offsets[p])
    return out


# ---------------------------------------------------------------------------------------------------- feet, floor
def _holds(pos: np.ndarray, contact: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each hold: a contact run, split where the foot slid more than HOLD_RADIUS from where
    the hold began (a long slide becomes steps); the holds of one run follow each other without a gap."""
    holds = []
    for start, stop in _runs(contact):
        begin = start
        for f in range(start + 1, stop):
            if np.linalg.norm(pos[f] - pos[begin]) > HOLD_RADIUS:
                holds.append((begin, f))
                begin = f
        holds.append((begin, stop))
    return holds


def _step_frames(distance: float) -> int:
    """Frames a step of ``distance`` m between two holds takes: each frame moves at least STEP_MIN (the
    contact metric's "slow" bound, so a step is a step and not a slide), at most STEP_FRAMES frames."""
    return int(np.clip(distance // STEP_MIN, 1, STEP_FRAMES))


def _held_xz(pos: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """Horizontal positions (T, 2) held still during contact (each hold at its median).

    Between two holds of one contact run the foot steps over at constant speed (:func:`_step_frames`) instead of
    sliding. Around a contact run the correction it needed at its edge fades out over FOOT_BLEND_FRAMES, so a
    foot that leaves fast keeps its own speed instead of being dragged back toward the hold.
    """
    holds = _holds(pos, contact)
    if not holds:
        return pos.copy()
    t = pos.shape[0]
    starts, stops = np.array([h[0] for h in holds]), np.array([h[1] for h in holds])
    anchors = np.stack([np.median(pos[a:b], axis=0) for a, b in holds])
    frames = np.arange(t)
    before = np.maximum(starts[None] - frames[:, None], 0)  # frames until each hold starts (0 once it has)
    after = np.maximum(frames[:, None] - (stops[None] - 1), 0)  # frames since each hold ended
    nearest = (before + after).argmin(axis=1)
    gap_before, gap_after = before[frames, nearest], after[frames, nearest]
    edge = np.where(gap_before > 0, starts[nearest], np.where(gap_after > 0, stops[nearest] - 1, frames))
    correction = anchors[nearest] - pos[edge]
    x = np.clip((gap_before + gap_after) / (FOOT_BLEND_FRAMES + 1), 0.0, 1.0)
    weight = (2 * x ** 3 - 3 * x ** 2 + 1)[:, None]  # smoothstep: 1 in the hold, 0 FOOT_BLEND_FRAMES + 1 away
    out = pos + weight * correction
    for k in np.flatnonzero(stops[:-1] == starts[1:]):  # a step between two holds of one run
        n = _step_frames(float(np.linalg.norm(anchors[k + 1] - anchors[k])))
        first = max(starts[k] + 1, stops[k] - n // 2)  # the step straddles the split, each hold keeps a frame
        last = min(first + n - 1, stops[k + 1] - 1)  # first frame at the next anchor: n moves of equal length
        ramp = ((frames[first:last] - first + 1) / (last - first + 1))[:, None]
        out[first:last] = anchors[k] + ramp * (anchors[k + 1] - anchors[k])
    return out


def plant_feet(joints: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Feet held still (horizontally) while in contact; knees by two-bone IK, shin, thigh and foot lengths kept.

    Contact is the skating metric's own (:func:`intermask.motion.features.foot_contacts`, low and slow) so that
    what the metric calls a standing foot is what is held.
    """
    out = joints.copy()
    t = joints.shape[0]
    if t < 3:
        return out
    contact = _contacts(joints)
    for _ in range(PLANT_ITERATIONS):
        out = _plant(joints, offsets, contact)
        grown = contact | _contacts(out)
        if (grown == contact).all():
            break
        contact = grown
    return out


def _contacts(joints: np.ndarray) -> np.ndarray:
    contact = foot_contacts(joints).astype(bool)  # (T-1, 4): l ankle, l toe, r ankle, r toe
    return np.concatenate([contact, contact[-1:]])


def _plant(joints: np.ndarray, offsets: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """One person's legs re-solved so the feet follow :func:`_held_xz` of the given contacts (T, 4)."""
    out = joints.copy()
    for side, (hip, knee, ankle, toe) in enumerate(LEGS):
        l1, l2, foot = _limb_lengths(offsets, (hip, knee, ankle, toe))
        ankle_xz = _held_xz(joints[:, ankle, [0, 2]], contact[:, 2 * side])
        toe_xz = _held_xz(joints[:, toe, [0, 2]], contact[:, 2 * side + 1])
        target = joints[:, ankle].copy()
        target[:, [0, 2]] = ankle_xz
        # The toe: its held horizontal place where the foot's length allows, its height from the foot length.
        flat = toe_xz - ankle_xz
        flat = flat * np.minimum(1.0, foot / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-9))
        rise = np.sqrt(np.maximum(foot ** 2 - (flat ** 2).sum(-1), 0.0))
        rise *= np.where(joints[:, toe, 1] >= joints[:, ankle, 1], 1.0, -1.0)
        # Where that puts the toe under the floor the heel rises until the toe rests on it: sliding the toe
        # out sideways would make a held toe skate, and lifting the whole body would lift the other foot too.
        target[:, 1] = np.maximum(target[:, 1], -rise)
        target = _reach_with(out, (hip, knee, ankle), _raised(out[:, hip], target, l1 + l2), offsets)
        out[:, toe, 0] = target[:, 0] + flat[:, 0]
        out[:, toe, 2] = target[:, 2] + flat[:, 1]
        out[:, toe, 1] = target[:, 1] + rise
    return out


def ground(joints: np.ndarray, reference: np.ndarray, sigma: float = GROUND_SIGMA) -> np.ndarray:
    """Per-frame vertical move (T,) that puts the person's lowest foot joint back at its height in ``reference``
    (the same person before the skeleton was made rigid, never below the floor), smooth in time.

    A rigid skeleton keeps the root's height but not the decoded leg length, and holding a foot can lift its
    heel, so without this a standing person floats a few centimetres in some frames and sinks in others;
    lifting the sinking frames alone (:func:`floor_lift`) would leave them floating too, and a floating person
    reads as jumping (both feet off the floor).
    """
    want = np.maximum(reference[:, FOOT_JOINTS, 1].min(axis=1), 0.0)
    have = joints[:, FOOT_JOINTS, 1].min(axis=1)
    return _smooth(want - have, sigma)


def floor_lift(joints: np.ndarray, sigma: float = OFFSET_SIGMA) -> np.ndarray:
    """Per-frame upward move (T,) that keeps the foot joints at or above the floor y = 0, smooth in time."""
    depth = np.maximum(-joints[:, FOOT_JOINTS, 1].min(axis=1), 0.0)
    lift = _envelope(depth, sigma)
    return np.maximum(lift, depth)


# ---------------------------------------------------------------------------------------------------- pipeline
def _refine_pass(joints: np.ndarray, rot6d: np.ndarray, movable: list[int], sigma: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One refinement of the movable persons at smoothing ``sigma``; fixed persons' arrays are not touched."""
    j = np.array(joints, dtype=np.float64)
    offsets, hints, reference = {}, {}, {}
    for p in movable:
        reference[p] = _smooth(joints[p], sigma)
        j[p], local, offsets[p] = rigid_skeleton(reference[p], rot6d[p], sigma=0.0)  # smoothed once, above
        hints[p] = sk.matrix_to_rot6d(local[:, 1:])
        j[p][..., 1] += ground(j[p], reference[p])[:, None]  # before planting: contacts are found on the floor
        j[p] = keep_raised_feet(keep_hands(j[p], reference[p], offsets[p]), reference[p], offsets[p])
    j = separate(j, movable, offsets)
    for p in movable:
        j[p] = plant_feet(j[p], offsets[p])
    # Held feet do not follow the push, so a leg can end up in the other body again: separate once more and
    # re-plant (PLANT_ROUNDS at most; the last word is the feet's, a planted foot must not slide).
    for _ in range(PLANT_ROUNDS):
        again = separate(j, movable, offsets)
        if again is j:
            break
        j = again
        for p in movable:
            j[p] = plant_feet(j[p], offsets[p])
    out_j = np.array(joints, dtype=np.float32)
    out_r = np.array(rot6d, dtype=np.float32)
    skeletons = {}
    for p in movable:
        person = j[p].copy()
        person[..., 1] += ground(person, reference[p])[:, None]
        person[..., 1] += floor_lift(person)[:, None]  # what the smooth grounding left under the floor
        local, _ = solve_skeleton(person, hints[p], offsets[p])
        fk, _ = sk.forward_kinematics(local, person[:, 0], offsets[p])
        out_j[p] = fk
        # The rotations handed out stay the model's own (see the module docstring); the ones that reproduce
        # the refined joints exactly are in the report.
        skeletons[p] = {"offsets": offsets[p], "local": local}
    return out_j, out_r, skeletons


def refine_pair(joints: np.ndarray, rot6d: np.ndarray, fixed: Sequence[int] = (), fps: float = 30.0,
                smoothing: Sequence[float] = SMOOTHING) -> tuple[np.ndarray, np.ndarray, dict]:
    """Refine joints (2, T, 22, 3) and rotations (2, T, 21, 6); persons in ``fixed`` come back bit-identical.
    ``smoothing``: the σ (frames) tried in order, see SMOOTHING.

    Returns (joints float32, rot6d float32 — the given rotations, see the module docstring, report): the report
    holds each moved person's jerk before and after (m/s³), the smoothing used, and ``skeletons``: per moved
    person its ``offsets`` (22, 3) and ``local`` rotations (T, 22, 3, 3; entry 0 the root's), whose forward
    kinematics from the returned pelvis gives the returned joints. Deterministic: no randomness anywhere.
    """
    joints = np.asarray(joints)
    rot6d = np.asarray(rot6d)
    if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (sk.NUM_JOINTS, 3):
        raise InterMaskError(f"Refinement needs joints of shape (2, T, 22, 3); got {joints.shape}.")
    if rot6d.shape != (2, joints.shape[1], 21, 6):
        raise InterMaskError(f"Refinement needs rotations of shape (2, {joints.shape[1]}, 21, 6); got {rot6d.shape}.")
    if not (np.isfinite(joints).all() and np.isfinite(rot6d).all()):
        raise InterMaskError("Cannot refine a motion that contains NaN or Inf values.")
    if any(p not in (0, 1) for p in fixed):
        raise InterMaskError(f"Fixed persons must be 0 (A) or 1 (B); got {list(fixed)}.")
    smoothing = tuple(float(x) for x in smoothing)
    if not smoothing or any(not 0 <= x <= 10 for x in smoothing):
        raise InterMaskError(f"Refinement smoothing is one or more σ between 0 and 10 frames; got {smoothing}.")
    movable = [p for p in (0, 1) if p not in fixed]
    raw_jerk = {p: physics.jitter(joints[p], fps)[1] for p in movable}
    report = {"sigma": smoothing[0], "jerk_before": raw_jerk, "skeletons": {}}
    out_j, out_r = np.array(joints, dtype=np.float32), np.array(rot6d, dtype=np.float32)
    best = None
    for sigma in smoothing if movable else ():
        attempt = _refine_pass(joints, rot6d, movable, sigma)
        jerk = sum(physics.jitter(attempt[0][p], fps)[1] for p in movable)
        if best is None or jerk < best[0]:
            best = (jerk, sigma, attempt)
        if jerk <= sum(raw_jerk.values()):  # planting feet can add jerk; more smoothing takes it out again
            break
    if best is not None:
        _, sigma, (out_j, out_r, skeletons) = best
        report.update(sigma=sigma, skeletons=skeletons)
    for p in fixed:  # exactly the caller's arrays, whatever dtype conversion did
        out_j[p], out_r[p] = joints[p], rot6d[p]
    report["jerk_after"] = {p: physics.jitter(out_j[p], fps)[1] for p in movable}
    return out_j, out_r, report


def refine(clip: Interaction, fixed: Sequence[int] = (), smoothing: Sequence[float] = SMOOTHING) -> Interaction:
    """A refined copy of ``clip`` (see the module docstring); persons in ``fixed`` are unchanged, bit for bit.

    Features, when the clip has them, are re-derived from the refined joints and rotations for the moved
    persons (the fixed persons keep theirs), so a saved file stays consistent.
    """
    joints, rot6d, report = refine_pair(clip.joints, clip.rot6d, fixed, clip.fps, smoothing)
    features = None
    if clip.features is not None:
        features = refined_features(clip.features, joints, rot6d, fixed)
    meta = dict(clip.meta, refine={"fixed": sorted(int(p) for p in fixed), "smoothing_frames": report["sigma"],
                                   "jerk_before": {str(k): round(v, 3) for k, v in report["jerk_before"].items()},
                                   "jerk_after": {str(k): round(v, 3) for k, v in report["jerk_after"].items()}})
    return Interaction(joints=joints, rot6d=rot6d, fps=clip.fps, text=clip.text, features=features, meta=meta)


# Frames of context on each side of an edited span that its refinement sees (smoothing, the person's bone
# lengths, the separation's time scale); the context itself is never written.
SPAN_CONTEXT = 30


def _seam_ramp(length: int, before: bool, after: bool, seam_frames: int) -> np.ndarray:
    """(length, 1, 1) weights of a span's refinement: rising on a half cosine from the kept frames at each seam
    that has some (``before``/``after``) to 1 over ``seam_frames`` frames, so the span joins them smoothly."""
    w = np.ones(length)
    n = min(seam_frames, length // (int(before) + int(after) or 1))
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1))  # > 0 at the first frame, < 1 at the last
    if before and n:
        w[:n] = np.minimum(w[:n], rise)
    if after and n:
        w[length - n:] = np.minimum(w[length - n:], rise[::-1])
    return w[:, None, None]


def refine_span(joints: np.ndarray, rot6d: np.ndarray, start: int, stop: int, persons: Sequence[int],
                seam_frames: int, fps: float = 30.0, smoothing: Sequence[float] = SMOOTHING
                ) -> tuple[np.ndarray, dict]:
    """Joints (2, T, 22, 3) with only frames [start, stop) of ``persons`` refined; every other value is the
    input's, bit for bit (what an edit keeps). Returns (joints, the :func:`refine_pair` report).

    The span is refined with SPAN_CONTEXT frames around it (the other persons fixed), and the correction is
    faded in from each seam with kept frames over ``seam_frames`` frames (:func:`_seam_ramp`), so the span still
    joins the kept motion without a jump: right at a seam the motion is the spliced one, a few frames in it is
    the refined one. The rotations are not touched (refinement hands out the model's own, see the module
    docstring).
    """
    joints = np.asarray(joints)
    t = joints.shape[1]
    if not 0 <= start < stop <= t:
        raise InterMaskError(f"The span to refine must lie in the clip's {t} frames; got [{start}, {stop}).")
    lo, hi = max(0, start - SPAN_CONTEXT), min(t, stop + SPAN_CONTEXT)
    fixed = [p for p in (0, 1) if p not in persons]
    refined, _, report = refine_pair(joints[:, lo:hi], np.asarray(rot6d)[:, lo:hi], fixed, fps, smoothing)
    out = joints.copy()
    weight = _seam_ramp(stop - start, start > 0, stop < t, seam_frames)
    for p in persons:
        span = joints[p, start:stop].astype(np.float64)
        out[p, start:stop] = span + weight * (refined[p, start - lo:stop - lo] - span)
    return out, report


def refined_features(features: np.ndarray, joints: np.ndarray, rot6d: np.ndarray,
                     fixed: Sequence[int] = ()) -> np.ndarray:
    """Features (2, T, 262) of refined joints/rotations; the rows of ``fixed`` persons are the given ones.

    A feature frame needs the next frame for its velocity: the last one repeats the last velocity.
    """
    out = np.array(features, dtype=np.float32)
    for p in (0, 1):
        if p in fixed:
            continue
        j = np.asarray(joints[p], dtype=np.float64)
        nxt = 2 * j[-1:] - j[-2:-1] if len(j) > 1 else j[-1:]
        out[p] = features_from_joints(np.concatenate([j, nxt]), np.concatenate([rot6d[p], rot6d[p][-1:]]))
    return out


def refine_features(features: np.ndarray, fixed: Sequence[int] = (), fps: float = 30.0,
                    smoothing: Sequence[float] = SMOOTHING) -> np.ndarray:
    """De-normalised pair features (2, T, 262) → refined pair features; what the evaluation's ``--refine`` scores."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[0] != 2 or features.shape[-1] != FEATURE_DIM:
        raise InterMaskError(f"Refinement needs pair features of shape (2, T, {FEATURE_DIM}); got {features.shape}.")
    joints, rot6d, _ = refine_pair(features_to_joints(features), features_to_rot6d(features), fixed, fps, smoothing)
    return refined_features(features, joints, rot6d, fixed)
