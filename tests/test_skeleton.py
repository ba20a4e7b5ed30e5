"""The skeleton and rotation maths that everything else builds on."""
import numpy as np
import pytest
import torch

from intermask import skeleton as sk

ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def random_rotations(n, seed=0):
    rng = np.random.default_rng(seed)
    return sk.axis_angle_to_matrix(rng.normal(size=(n, 3)))


def test_skeleton_tables_are_consistent():
    assert len(sk.JOINT_NAMES) == len(sk.PARENTS) == sk.NUM_JOINTS == 22
    assert all(sk.PARENTS[j] < j for j in range(1, 22))  # parents come first: FK can run in index order
    assert len(sk.BONES) == 21 and sorted(c for _, c in sk.BONES) == list(range(1, 22))
    perm = np.array(sk.MIRROR_PERMUTATION)
    assert (perm[perm] == np.arange(22)).all()  # an involution
    assert [sk.JOINT_NAMES[perm[j]] for j in sk.LEFT_CHAIN] == [
        sk.JOINT_NAMES[j].replace("left", "right") for j in sk.LEFT_CHAIN]


def test_rest_pose_faces_plus_z_with_left_at_plus_x():
    rest = sk.rest_joints()
    assert rest[1, 0] > 0 > rest[2, 0]  # left hip at +X
    assert rest[15, 1] > rest[12, 1] > 0 > rest[7, 1]  # head above neck above pelvis above ankles
    assert rest[10, 2] > rest[7, 2]  # toes point forward (+Z)
    assert 1.4 < sk.rest_height() < 1.9


def test_axis_angle_matrix_quaternion_round_trips():
    rng = np.random.default_rng(1)
    aa = rng.normal(size=(50, 3))
    aa *= (np.minimum(np.linalg.norm(aa, axis=-1), 3.0) / np.linalg.norm(aa, axis=-1))[:, None]  # angle < π
    m = sk.axis_angle_to_matrix(aa)
    assert np.allclose(m @ np.swapaxes(m, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(m), 1.0)
    assert np.allclose(sk.matrix_to_axis_angle(m), aa, atol=1e-9)
    q = sk.matrix_to_quaternion(m)
    assert np.allclose(sk.quaternion_to_matrix(q), m, atol=1e-12)
    assert np.allclose(sk.axis_angle_to_quaternion(aa), q, atol=1e-12)
    v = rng.normal(size=(50, 3))
    assert np.allclose(sk.quaternion_rotate(q, v), (m @ v[..., None])[..., 0], atol=1e-12)
    q2 = sk.matrix_to_quaternion(random_rotations(50, 2))
    assert np.allclose(sk.quaternion_to_matrix(sk.quaternion_multiply(q, q2)),
                       m @ sk.quaternion_to_matrix(q2), atol=1e-12)
    assert np.allclose(sk.quaternion_multiply(q, sk.quaternion_inverse(q)), [1, 0, 0, 0], atol=1e-12)


def test_quaternion_between_handles_opposite_directions():
    a = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.3, -0.2, 0.9]])
    for b in (-a, np.array([[0.0, 1.0, 0.0]] * 3)):
        q = sk.quaternion_between(a, b)
        got = sk.quaternion_rotate(q, a)
        assert np.allclose(got, b / np.linalg.norm(b, axis=-1, keepdims=True) * np.linalg.norm(a, axis=-1,
                                                                                                 keepdims=True))


def test_rot6d_layout_is_first_two_columns_row_by_row():
    theta = 0.3
    c, s = np.cos(theta), np.sin(theta)
    rz = sk.axis_angle_to_matrix(np.array([0.0, 0.0, theta]))
    assert np.allclose(rz, [[c, -s, 0], [s, c, 0], [0, 0, 1]])
    # [R00, R01, R10, R11, R20, R21]
    assert np.allclose(sk.matrix_to_rot6d(rz), [c, -s, s, c, 0, 0])
    m = random_rotations(20)
    assert np.allclose(sk.rot6d_to_matrix(sk.matrix_to_rot6d(m)), m, atol=1e-12)
    # Gram–Schmidt repairs a perturbed 6D vector into a proper rotation.
    noisy = sk.rot6d_to_matrix(sk.matrix_to_rot6d(m) + 0.01)
    assert np.allclose(np.linalg.det(noisy), 1.0)


def test_torch_twins_match_numpy():
    m = random_rotations(10, 3)
    d6 = sk.matrix_to_rot6d(m) + np.random.default_rng(0).normal(0, 0.05, size=(10, 6))
    got = sk.rot6d_to_matrix_torch(torch.tensor(d6)).numpy()
    assert np.allclose(got, sk.rot6d_to_matrix(d6), atol=1e-10)
    assert np.allclose(sk.matrix_to_rot6d_torch(torch.tensor(m)).numpy(), sk.matrix_to_rot6d(m))


@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip_all_orders(order):
    m = random_rotations(40, 4)
    ang = sk.matrix_to_euler(m, order)
    assert np.allclose(sk.euler_to_matrix(ang, order), m, atol=1e-10)


@pytest.mark.parametrize("order", ORDERS)
def test_euler_at_gimbal_lock(order):
    # The middle angle at ±90°: first and last axes coincide; the matrix must still be reproduced.
    angles = np.array([[0.4, np.pi / 2, -0.7], [-1.1, -np.pi / 2, 0.2], [2.5, np.pi / 2, 3.0]])
    m = sk.euler_to_matrix(angles, order)
    back = sk.matrix_to_euler(m, order)
    assert np.allclose(sk.euler_to_matrix(back, order), m, atol=1e-6)
    assert np.allclose(np.abs(back[:, 1]), np.pi / 2, atol=1e-6)


def test_euler_zyx_means_rz_ry_rx():
    a = np.array([0.1, 0.2, 0.3])
    expected = (sk.axis_angle_to_matrix([0, 0, 0.1]) @ sk.axis_angle_to_matrix([0, 0.2, 0])
                @ sk.axis_angle_to_matrix([0.3, 0, 0]))
    assert np.allclose(sk.euler_to_matrix(a, "ZYX"), expected)


def test_forward_kinematics_keeps_rest_bone_lengths():
    rng = np.random.default_rng(5)
    local = sk.axis_angle_to_matrix(rng.normal(0, 0.6, size=(30, 22, 3)))
    root = rng.normal(size=(30, 3))
    joints, glob = sk.forward_kinematics(local, root)
    rest_lengths = sk.bone_lengths(sk.rest_joints())
    assert np.allclose(sk.bone_lengths(joints), rest_lengths[None], atol=1e-12)
    assert np.allclose(joints[:, 0], root)
    assert np.allclose(sk.global_to_local(glob), local, atol=1e-12)
    # Identity rotations give the rest pose.
    rest, _ = sk.forward_kinematics(np.broadcast_to(np.eye(3), (22, 3, 3)), np.zeros(3))
    assert np.allclose(rest, sk.rest_joints())


@pytest.mark.parametrize("yaw", [0.0, 1.0, np.pi, -2.5])
def test_root_orientation_from_joints_any_facing(yaw):
    rng = np.random.default_rng(6)
    local = sk.axis_angle_to_matrix(rng.normal(0, 0.3, size=(5, 22, 3)))
    local[:, 0] = sk.y_rotation(np.full(5, yaw)) @ local[:, 0]
    joints, _ = sk.forward_kinematics(local, np.zeros((5, 3)))
    assert np.allclose(sk.root_orientation_from_joints(joints), local[:, 0], atol=1e-9)


def test_kabsch_recovers_a_rotation_and_never_a_reflection():
    rng = np.random.default_rng(7)
    src = rng.normal(size=(6, 3))
    r = random_rotations(1, 8)[0]
    assert np.allclose(sk.kabsch(src, src @ r.T), r, atol=1e-10)
    mirrored = src * np.array([-1.0, 1.0, 1.0])
    assert np.isclose(np.linalg.det(sk.kabsch(src, mirrored)), 1.0)
