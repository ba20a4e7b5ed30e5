"""The refinement step (intermask/motion/refine.py) on motion whose faults are known: overlapping bodies, a
handshake, drifting bones, sliding feet, and a reaction whose partner must not change.

Inputs are exact skeletons (tests/fixtures.py, InterSynth's procedural clips) with model-like faults added, so
each fault is present before refinement (asserted) and gone after.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from fixtures import local_to_rot6d, person_motion, random_interaction, random_pair
from intermask import skeleton as sk
from intermask.data.intersynth.compose import generate_clip
from intermask.errors import InterMaskError
from intermask.evaluation import _PHYS_FLOOR  # the `results` command's absolute allowances
from intermask.metrics import physics
from intermask.metrics.control import airborne
from intermask.motion.features import features_from_joints, foot_contacts
from intermask.motion.footlock import LEGS, two_bone_ik
from intermask.motion.interaction import Interaction
from intermask.motion.refine import (FUSED_SMOOTHING, SMOOTHING, refine, refine_features, refine_pair, refine_span,
                                     smoothing_for)

LEFT_ARM = (16, 18, 20)  # shoulder, elbow, wrist


def model_like(joints: np.ndarray, seed: int = 0, noise: float = 0.01) -> np.ndarray:
    """Decoding faults: per-frame jitter of every joint (bones change length, feet slide, jerk rises)."""
    return joints + np.random.default_rng(seed).normal(0.0, noise, joints.shape)


def length_spread(person: np.ndarray) -> float:
    """How much the most variable bone of one person (T, 22, 3) changes length over the clip (m); 0 when rigid."""
    lengths = sk.bone_lengths(person)
    return float((lengths.max(axis=0) - lengths.min(axis=0)).max())


def assert_apart(joints: np.ndarray) -> None:
    """No frame where the bodies overlap by more than the metric's 1 mm (sub-millimetre touches may remain)."""
    depth, frames = physics.interpenetration(joints)
    assert frames == 0.0 and depth < 1e-4


def overlapping_handshake(shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An InterSynth left-hand handshake with B moved ``shift`` m toward A while its hand stays in A's: the
    bodies overlap and the hands still meet. Returns joints (2, T, 22, 3), rot6d and the contact frames."""
    clip = generate_clip(5, category="handshake")
    assert clip.label["contact"] and clip.label["side"] == "left"
    joints = clip.joints.astype(np.float64)
    toward_a = (joints[0, :, 0] - joints[1, :, 0]) * np.array([1.0, 0.0, 1.0])
    toward_a /= np.linalg.norm(toward_a, axis=-1, keepdims=True)
    moved = joints.copy()
    moved[1] += shift * toward_a[:, None]
    shoulder, elbow, wrist = LEFT_ARM
    upper = np.linalg.norm(joints[1, 0, elbow] - joints[1, 0, shoulder])
    fore = np.linalg.norm(joints[1, 0, wrist] - joints[1, 0, elbow])
    moved[1, :, elbow] = two_bone_ik(moved[1, :, shoulder], moved[1, :, elbow], joints[1, :, wrist], upper, fore)
    moved[1, :, wrist] = joints[1, :, wrist]
    shaking = np.linalg.norm(moved[0, :, wrist] - moved[1, :, wrist], axis=-1) < 0.1
    return moved, clip.rot6d, shaking


def test_two_people_placed_overlapping_are_separated():
    joints, rot6d = random_pair(np.random.default_rng(3), 90, distance=0.15)  # pelvises 15 cm apart
    depth, frames = physics.interpenetration(joints)
    assert frames > 0.9 and depth > 0.05  # the torsos overlap in (nearly) every frame
    out, _, _ = refine_pair(joints, rot6d)
    assert_apart(out)
    # Both persons were generated, so both give way; with A fixed, B alone moves and still clears A.
    moved = np.linalg.norm((out[:, :, 0] - joints[:, :, 0])[..., [0, 2]], axis=-1).mean(axis=1)
    assert (moved > 0.02).all()
    out_b, _, _ = refine_pair(joints, rot6d, fixed=(0,))
    assert_apart(out_b)


@pytest.mark.parametrize("shift", [0.0, 0.45])
def test_a_handshakes_hands_stay_within_a_few_centimetres(shift):
    joints, rot6d, shaking = overlapping_handshake(shift)
    assert shaking.sum() > 20
    if shift:
        assert physics.interpenetration(joints)[1] > 0.9  # the bodies overlap throughout
    out, _, _ = refine_pair(joints, rot6d)
    assert_apart(out)
    wrist = LEFT_ARM[2]
    before = np.linalg.norm(joints[0, :, wrist] - joints[1, :, wrist], axis=-1)
    after = np.linalg.norm(out[0, :, wrist] - out[1, :, wrist], axis=-1)
    assert np.abs(after - before)[shaking].max() < 0.04
    # Not by leaving the bodies where they were: the pelvises moved apart where they overlapped.
    gap = np.linalg.norm((out[0, :, 0] - out[1, :, 0])[:, [0, 2]], axis=-1)
    assert gap.min() >= np.linalg.norm((joints[0, :, 0] - joints[1, :, 0])[:, [0, 2]], axis=-1).min() - 1e-6  # float32


def test_bone_lengths_are_constant_to_a_millimetre_and_rotations_agree():
    clip = random_interaction(seed=4, frames=90)
    noisy = model_like(clip.joints)
    assert physics.bone_length_drift(noisy[0]) > 0.01
    out, rot6d, report = refine_pair(noisy, clip.rot6d)
    for p in range(2):
        assert length_spread(out[p]) < 1e-3
        lengths = sk.bone_lengths(out[p])
        # The person's own size: each length is the median of its noisy lengths, to a few millimetres.
        own = np.median(sk.bone_lengths(noisy[p]), axis=0)
        assert np.abs(lengths[0] - own).max() < 0.01
        # Joints are the forward kinematics of the solved rotations (on the person's skeleton); the rotations
        # handed out stay the model's (the evaluator scores solved ones at chance, see refine.py).
        skeleton = report["skeletons"][p]
        fk, _ = sk.forward_kinematics(skeleton["local"], out[p, :, 0], skeleton["offsets"])
        assert np.abs(fk - out[p]).max() < 1e-4
        np.testing.assert_array_equal(rot6d[p], clip.rot6d[p])


def test_feet_in_contact_do_not_move():
    joints, local, _ = person_motion(np.random.default_rng(2), 90, facing=0.7, amplitude=0.05)
    rot6d = local_to_rot6d(local)
    # A standing person whose feet slide 10 cm over the clip and jitter, as decoded motion does.
    sliding = model_like(joints, seed=1, noise=0.004)
    sliding[:, [7, 8, 10, 11], 0] += np.linspace(0.0, 0.1, 90)[:, None]
    pair = np.stack([sliding, sliding + np.array([3.0, 0.0, 0.0])])  # the partner far away
    assert physics.foot_skating(sliding) > 0.05
    out, _, _ = refine_pair(pair, np.stack([rot6d, rot6d]))
    feet = out[0][:, physics.FOOT_JOINTS][..., [0, 2]]
    contact = features_from_joints(out[0], rot6d)[:, -4:].astype(bool)  # the skating metric's contacts
    assert contact.mean() > 0.8
    speed = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)  # m per frame
    assert speed[contact[:len(speed)]].max() < 1e-3
    assert physics.foot_skating(out[0]) < 0.01
    assert (out[..., physics.FOOT_JOINTS, 1] >= -1e-4).all()  # and none below the floor


def test_a_person_whose_decoded_legs_stretch_keeps_both_feet_on_the_floor():
    joints, local, _ = person_motion(np.random.default_rng(2), 90, facing=0.7, amplitude=0.05)
    rot6d = local_to_rot6d(local)
    # Decoding faults seen in the bundled model's output: for a second the body rises 5 cm while the feet stay
    # put (the thighs stretch). A rigid skeleton on the clip's median lengths keeps the pelvis where it was, so
    # unless the person is grounded again both feet leave the floor, and the clip reads as a jump.
    stretched = joints.copy()
    rise = 0.05 * np.clip(np.minimum(np.arange(90) - 25, 65 - np.arange(90)) / 10, 0, 1)
    below_hips = {j for leg in LEGS for j in leg[1:]}  # knees, ankles, toes
    upper = [j for j in range(sk.NUM_JOINTS) if j not in below_hips]
    stretched[:, upper, 1] += rise[:, None]
    pair = np.stack([stretched, stretched + np.array([3.0, 0.0, 0.0])])
    assert length_spread(stretched) > 0.04  # the thighs
    out, _, _ = refine_pair(pair, np.stack([rot6d, rot6d]))
    lowest_before = stretched[:, physics.FOOT_JOINTS, 1].min(axis=1)
    lowest_after = out[0][:, physics.FOOT_JOINTS, 1].min(axis=1)
    assert np.abs(lowest_after - lowest_before).max() < 0.01
    assert (lowest_after >= -1e-4).all()
    assert not airborne(out[0]).any() and not airborne(stretched).any()


def test_a_hand_that_reaches_the_partner_in_the_decoding_still_reaches_it():
    # A high five as the bundled model decodes it: reaching for the partner, a forearm comes out 8 cm longer
    # than its length in the rest of the clip. Forward kinematics on the clip's median bone lengths would leave
    # that hand 8 cm short of where the decoding put it, and touches the model made come apart (3 of the 33
    # contact clips of 64 test clips did); the refinement keeps the hand there and bends the elbow (64 degrees
    # here) less to reach it.
    clip = generate_clip(3, category="high_five")
    joints = clip.joints.astype(np.float64)
    wrist, elbow = 21, 19  # the right arm, the one that high-fives
    gap = np.linalg.norm(joints[0, :, wrist] - joints[1, :, wrist], axis=-1)
    touch = int(np.argmin(gap))
    reaching = 0.08 * np.clip(1 - np.abs(np.arange(len(gap)) - touch) / 15, 0, 1)
    forearm = joints[1, :, wrist] - joints[1, :, elbow]
    decoded = joints.copy()
    decoded[1, :, wrist] += reaching[:, None] * forearm / np.linalg.norm(forearm, axis=-1, keepdims=True)
    out, _, _ = refine_pair(decoded, clip.rot6d)
    reference = gaussian_filter1d(decoded, 1.0, axis=1, mode="nearest")  # the refinement's σ = 1 smoothing
    assert np.linalg.norm(out[1, touch, wrist] - reference[1, touch, wrist]) < 0.01
    assert length_spread(out[1]) < 1e-3  # and the forearm is rigid again


def test_a_kicking_foot_stays_where_the_decoding_put_it():
    # A kick whose shin is decoded 8 cm longer around the kick's peak: forward kinematics on the median shin would
    # move that foot 7 cm; a foot lifted well off the floor follows the decoding (a foot near the floor is left
    # to grounding and planting).
    clip = generate_clip(4, category="kick")
    kicker = clip.label["actor"]
    hip, knee, ankle, toe = LEGS[0 if clip.label["side"] == "left" else 1]
    joints = clip.joints.astype(np.float64)
    peak = int(np.argmax(joints[kicker, :, ankle, 1]))
    assert joints[kicker, peak, ankle, 1] > 0.4
    longer = 0.08 * np.clip(1 - np.abs(np.arange(joints.shape[1]) - peak) / 10, 0, 1)
    shin = joints[kicker, :, ankle] - joints[kicker, :, knee]
    decoded = joints.copy()
    decoded[kicker][:, [ankle, toe]] += (longer[:, None] * shin / np.linalg.norm(shin, axis=-1, keepdims=True))[:, None]
    out, _, _ = refine_pair(decoded, clip.rot6d)
    reference = gaussian_filter1d(decoded, 1.0, axis=1, mode="nearest")
    assert np.linalg.norm(out[kicker, peak, ankle] - reference[kicker, peak, ankle]) < 0.01
    assert length_spread(out[kicker]) < 1e-3


def test_a_shuffling_foot_stands_then_steps():
    joints, local, _ = person_motion(np.random.default_rng(2), 90, facing=0.7, amplitude=0.05)
    rot6d = local_to_rot6d(local)
    # Both feet shuffle 45 cm forward in 3 s while staying low: too far for one planted stance (HOLD_RADIUS).
    shuffling = joints.copy()
    shuffling[:, [7, 8, 10, 11], 2] += np.linspace(0.0, 0.45, 90)[:, None]
    pair = np.stack([shuffling, shuffling + np.array([3.0, 0.0, 0.0])])
    assert physics.foot_skating(shuffling) > 0.1
    out, _, _ = refine_pair(pair, np.stack([rot6d, rot6d]))
    # Within twice the `results` command's allowance for a ground truth that does not skate (InterSynth's own
    # skates 0.017 m/s); what is left is feet easing off their last hold.
    assert physics.foot_skating(out[0]) < 2 * _PHYS_FLOOR["foot_skate_mps"]
    # The feet still get there, in steps: a low foot stands (under 1 mm a frame) or moves faster than the
    # metric's "slow"; in between (a slide) only where a foot eases off its last hold. Before: nearly always.
    def sliding(person: np.ndarray) -> float:
        feet = person[:, physics.FOOT_JOINTS]
        moves = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1)
        low = feet[:-1, :, 1] < np.array(sk.FOOT_HEIGHT_THRESHOLDS * 2)
        return float((low & (moves > 1e-3) & (moves ** 2 < sk.FOOT_VELOCITY_THRESHOLD)).sum() / low.sum())

    assert sliding(shuffling) > 0.9 and sliding(out[0]) < 0.05
    feet = out[0][:, physics.FOOT_JOINTS]
    assert np.abs(feet[-1, :, 2] - feet[0, :, 2]).min() > 0.2  # of 0.45: the first and last stances are medians
    assert foot_contacts(out[0]).mean() > 0.5  # and they stand most of the time


def test_clean_motion_keeps_most_of_its_acceleration_and_jerk():
    # Clean motion (InterSynth: rigid, planted, apart) has no decoding jitter to take out, so the light smoothing
    # may only round off its sharpest moments: two thirds of its acceleration and 40% of its jerk stay (the
    # previous σ = 2 frames kept under half the acceleration of a walk and a third of its jerk). The hands
    # follow the smoothed joints exactly, and σ = 1 alone keeps 42% of a handshake's jerk.
    for category in ("handshake", "push", "approach", "walk_away", "kick"):
        clip = generate_clip(7, category=category)
        out, _, _ = refine_pair(clip.joints, clip.rot6d)
        before, after = physics.summary(clip.joints), physics.summary(out)
        assert after["acceleration_mps2"] >= 0.65 * before["acceleration_mps2"], category
        assert after["jerk_mps3"] >= 0.4 * before["jerk_mps3"], category


def test_motion_decoded_with_its_velocities_is_smoothed_less():
    # Fused decoding (velocity_fusion > 0) leaves little jitter, so its ladder starts lower; positions-only
    # decoding keeps the ladder that takes its jitter out.
    assert smoothing_for(0.0) == SMOOTHING and smoothing_for(0.5) == FUSED_SMOOTHING
    assert FUSED_SMOOTHING[0] < SMOOTHING[0] and FUSED_SMOOTHING[-1] <= SMOOTHING[-1]
    clip = generate_clip(7, category="push")
    noisy = model_like(clip.joints, noise=0.002)
    light, _, report = refine_pair(noisy, clip.rot6d, smoothing=FUSED_SMOOTHING)
    heavy, _, _ = refine_pair(noisy, clip.rot6d)
    assert report["sigma"] in FUSED_SMOOTHING
    assert physics.summary(heavy)["jerk_mps3"] < physics.summary(light)["jerk_mps3"]
    # The ladder is tried in order: with one σ there is nothing else to try.
    _, _, single = refine_pair(noisy, clip.rot6d, smoothing=(0.25,))
    assert single["sigma"] == 0.25


def test_the_reaction_partner_is_bit_identical():
    clip = random_interaction(seed=5, frames=60)
    clip = Interaction(model_like(clip.joints), clip.rot6d, text=clip.text,
                       features=np.stack([features_from_joints(np.concatenate([j, j[-1:]]),
                                                               np.concatenate([r, r[-1:]]))
                                          for j, r in zip(model_like(clip.joints), clip.rot6d)]))
    out = refine(clip, fixed=(0,))
    assert out.joints[0].tobytes() == clip.joints[0].tobytes()
    assert out.rot6d[0].tobytes() == clip.rot6d[0].tobytes()
    assert out.features[0].tobytes() == clip.features[0].tobytes()
    assert not np.allclose(out.joints[1], clip.joints[1])  # B was refined
    assert out.meta["refine"]["fixed"] == [0]
    feats = refine_features(clip.features, fixed=(0,))
    assert feats[0].tobytes() == clip.features[0].tobytes()


def test_jerk_does_not_rise_and_the_same_input_gives_the_same_output():
    clip = random_interaction(seed=6, frames=90)
    noisy = model_like(clip.joints, noise=0.003)
    out, rot6d, report = refine_pair(noisy, clip.rot6d)
    assert physics.summary(out)["jerk_mps3"] <= physics.summary(noisy)["jerk_mps3"]  # as the metric averages it
    assert sum(report["jerk_after"].values()) <= sum(report["jerk_before"].values())
    again, rot_again, _ = refine_pair(noisy, clip.rot6d)
    assert np.array_equal(out, again) and np.array_equal(rot6d, rot_again)
    # Clean motion (an InterSynth handshake: rigid, planted, apart) stays close to itself: a correction, not a
    # new motion.
    shake = generate_clip(5, category="handshake")
    clean, _, _ = refine_pair(shake.joints, shake.rot6d)
    assert np.abs(clean - shake.joints).max() < 0.03


def test_an_edited_span_is_refined_and_every_kept_value_stays_bit_identical():
    # An edit regenerated B in frames [30, 60) of a 90-frame clip: there B jitters (bones change length) and walks
    # into A; everything else is kept motion and must not change at all.
    joints, rot6d = random_pair(np.random.default_rng(3), 90, distance=0.9)
    edited = joints.astype(np.float32)
    span = slice(30, 60)
    edited[1, span] = model_like(edited[1, span], seed=2)
    toward_a = (joints[0, span, 0] - joints[1, span, 0]) * np.array([1.0, 0.0, 1.0])
    toward_a /= np.linalg.norm(toward_a, axis=-1, keepdims=True)
    edited[1, span] += (0.7 * np.sin(np.linspace(0, np.pi, 30))[:, None] * toward_a)[:, None].astype(np.float32)
    inside = slice(42, 48)  # the middle of the span, past the seams' fade
    assert physics.interpenetration(edited[:, inside])[1] > 0.5
    assert physics.bone_length_drift(edited[1, inside]) > 0.01
    out, report = refine_span(edited, rot6d, 30, 60, persons=(1,), seam_frames=12)
    assert out.dtype == edited.dtype
    assert out[0].tobytes() == edited[0].tobytes()
    assert out[1, :30].tobytes() == edited[1, :30].tobytes() and out[1, 60:].tobytes() == edited[1, 60:].tobytes()
    assert_apart(out[:, inside])
    assert length_spread(out[1, inside]) < 1e-3
    # Joined to the kept frames without a jump: the first refined frame moved less than a centimetre.
    assert np.abs(out[1, 30] - edited[1, 30]).max() < 0.01
    assert set(report["jerk_after"]) == {1}


def test_bad_input_is_a_sentence():
    joints, rot6d = random_pair(np.random.default_rng(0), 20)
    with pytest.raises(InterMaskError, match=r"\(2, T, 22, 3\)"):
        refine_pair(joints[0], rot6d)
    with pytest.raises(InterMaskError, match="NaN"):
        refine_pair(np.full_like(joints, np.nan), rot6d)
    with pytest.raises(InterMaskError, match="Fixed persons"):
        refine_pair(joints, rot6d, fixed=(2,))
    with pytest.raises(InterMaskError, match="between 0 and 10 frames"):
        refine_pair(joints, rot6d, smoothing=())
    with pytest.raises(InterMaskError, match="between 0 and 10 frames"):
        refine_pair(joints, rot6d, smoothing=(-1.0,))
