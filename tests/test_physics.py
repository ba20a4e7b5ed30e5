"""Physics metrics on constructed motions whose answers are known."""
import numpy as np
import pytest

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.metrics import physics


def standing(frames=30, x=0.0, z=0.0):
    """The rest skeleton standing with its toes on the floor, (frames, 22, 3)."""
    j = sk.rest_joints()
    j = j - np.array([0, j[:, 1].min(), 0]) + np.array([x, 0, z])
    return np.repeat(j[None], frames, axis=0)


def test_still_standing_is_clean():
    j = standing()
    assert physics.foot_skating(j) == 0.0
    assert physics.ground_penetration(j) == (0.0, 0.0)
    assert physics.jitter(j) == (0.0, 0.0)
    assert physics.bone_length_drift(j) < 1e-12


def test_sliding_feet_are_measured_at_their_speed():
    j = standing(31)
    j[..., 0] += np.arange(31)[:, None] * 0.01  # 0.3 m/s: slow enough to count as contact
    assert physics.foot_skating(j, fps=30) == pytest.approx(0.3, rel=1e-6)


def test_penetration_depth_and_fraction():
    j = standing(10)
    j[:5, ..., 1] -= 0.02  # half the frames sink 2 cm
    depth, frac = physics.ground_penetration(j)
    assert frac == 0.5
    # Only the toes (2 of the 4 foot joints) were on the floor, so they alone go below it.
    assert depth == pytest.approx(0.02 * 0.5 * 0.5, rel=0.05)


def test_jitter_of_constant_acceleration():
    j = standing(20)
    t = np.arange(20) / 30
    j[..., 1] += (0.5 * 2.0 * t ** 2)[:, None]  # 2 m/s² upward
    acc, jerk = physics.jitter(j, fps=30)
    assert acc == pytest.approx(2.0, rel=1e-6) and jerk == pytest.approx(0.0, abs=1e-6)


def test_bone_drift_sees_stretching():
    j = standing(10)
    j[5:, 20:22] *= 1.1
    assert physics.bone_length_drift(j) > 1e-3


def test_interpenetration_of_overlapping_and_separate_bodies():
    far = np.stack([standing(5), standing(5, x=1.0)])
    assert physics.interpenetration(far) == (0.0, 0.0)
    close = np.stack([standing(5), standing(5, z=0.1)])  # 10 cm apart: trunks overlap by ~0.12 m
    depth, frac = physics.interpenetration(close)
    assert frac == 1.0 and 0.05 < depth < 0.25
    s = physics.summary(close)
    assert set(s) >= {"foot_skate_mps", "ground_penetration_m", "interpenetration_m", "jerk_mps3", "bone_length_drift"}
    with pytest.raises(InterMaskError):
        physics.summary(np.zeros((5, 22, 3)))
