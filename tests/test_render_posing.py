"""Posing a body from an Interaction: the mesh's joints land on the generated joints, smoothly (no GL)."""
import numpy as np
import pytest

from intermask import skeleton as sk
from intermask.render.body import load_body, mannequin_body
from intermask.render.posing import fit_body, gaussian_smooth, rest_pose_joints, smooth_rotations
from intermask.render.skinning import Skinner
from tests.fixtures import random_person


@pytest.fixture(scope="module")
def body():
    return load_body("mannequin", detail="low")


@pytest.mark.parametrize("seed,facing,scale", [(0, 0.0, 1.0), (1, np.pi, 0.92), (2, 2.0, 1.08), (3, -1.3, 1.0)])
def test_mesh_joints_within_2cm_of_input_joints(body, seed, facing, scale):
    # Any facing (including away from +Z) and person sizes other than the body's own.
    joints, rot6d = random_person(seed=seed, frames=30, facing=facing, walk=seed % 2 == 1, scale=scale)
    fitted = fit_body(body, joints, rot6d, smooth=1.0)
    err = np.linalg.norm(fitted.positions[:, :22] - joints, axis=-1)
    assert err.max() < 0.02, err.max()
    # The skinned surface surrounds its skeleton: every posed joint lies inside the mesh's bounding box.
    verts, _ = Skinner(fitted).vertices(0, 30, normals=False)
    assert np.all(verts.min(1)[:, None] - 1e-3 <= fitted.positions[:, :22])
    assert np.all(fitted.positions[:, :22] <= verts.max(1)[:, None] + 1e-3)


def test_bones_point_exactly_at_child_joints_without_smoothing(body):
    joints, rot6d = random_person(seed=5, frames=20, facing=0.7)
    fitted = fit_body(body, joints, rot6d, smooth=0.0)
    np.testing.assert_allclose(fitted.positions[:, :22], joints, atol=1e-4)


def test_rotations_only_as_hint(body):
    # With no rotations at all the joints still drive the body; leaves (head, wrists) keep the rest twist.
    joints, _ = random_person(seed=6, frames=10)
    fitted = fit_body(body, joints, None, smooth=0.0)
    np.testing.assert_allclose(fitted.positions[:, :22], joints, atol=1e-4)


def test_rest_fit_reproduces_the_mannequin_rest_mesh():
    from mannequin import Mannequin

    full = mannequin_body()
    rest = full.bind_positions()[:22][None]
    verts, _ = Skinner(fit_body(full, rest, None, smooth=0.0)).vertices(0, 1)
    m = Mannequin("wooden")
    np.testing.assert_allclose(verts[0], m.vertices(m.rest_pose()), atol=1e-4)


def test_body_scales_to_the_person(body):
    small, rot_s = random_person(seed=7, frames=5, facing=0.0, scale=0.85)
    big, rot_b = random_person(seed=7, frames=5, facing=0.0, scale=1.15)
    h_small = np.ptp(fit_body(body, small, rot_s).vertices[:, 1])
    h_big = np.ptp(fit_body(body, big, rot_b).vertices[:, 1])
    assert h_big / h_small == pytest.approx(1.15 / 0.85, rel=0.03)


def test_smoothing_removes_rotation_jitter():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2, 60)
    clean = sk.axis_angle_to_matrix(np.stack([0.5 * np.sin(t), 0.3 * t, np.zeros_like(t)], -1))
    noisy = clean @ sk.axis_angle_to_matrix(rng.normal(0, 0.03, (60, 3)))
    smoothed = smooth_rotations(noisy, 2.0)

    def roughness(r):  # mean angle between consecutive frames' deviation from the clean path
        d = np.swapaxes(clean, -1, -2) @ r
        return np.linalg.norm(sk.matrix_to_axis_angle(d), axis=-1).mean()

    assert roughness(smoothed) < 0.5 * roughness(noisy)
    # Hemisphere alignment: a sign flip of the quaternion (same rotation) must not disturb the average.
    assert np.allclose(gaussian_smooth(np.ones((5, 2)), 1.0), 1.0)


def test_low_detail_keeps_weights_normalised_and_looks_like_a_body(body):
    assert 2000 < body.num_vertices < 5000
    np.testing.assert_allclose(body.skin_weights.sum(1), 1.0, atol=1e-5)
    joints = rest_pose_joints(body)
    assert joints[15, 1] > 1.3  # head well above the floor: a standing adult-sized T-pose
