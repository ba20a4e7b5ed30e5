"""bench/evaluator_features.py puts one part of the ground truth's feature back into a reconstruction at a time."""
import numpy as np

from fixtures import load_bench
from intermask import skeleton as sk
from intermask.motion.features import POS, ROT, VEL


def _bench():
    return load_bench("evaluator_features")


def _walk(start: float, speed: float, frames: int = 8) -> np.ndarray:
    """(2, F, 262) features of two persons whose 22 joints move along x, velocities the next frame's step."""
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(2, 1, 22, 3)) * 0.3
    pos = pose + (start + speed * np.arange(frames + 1))[None, :, None, None] * np.array([1.0, 0, 0])
    feat = np.zeros((2, frames, 262))
    feat[..., POS] = pos[:, :-1].reshape(2, frames, 66)
    feat[..., VEL] = (pos[:, 1:] - pos[:, :-1]).reshape(2, frames, 66)
    feat[..., ROT] = rng.normal(size=(2, frames, 126))
    return feat


def test_a_pose_moved_onto_another_root_path_keeps_its_pose_and_consistent_velocities():
    bench = _bench()
    pose, root = _walk(0.0, 0.01), _walk(2.0, 0.05)
    moved = bench.on_root(pose, root)
    joints = moved[..., POS].reshape(2, -1, 22, 3)
    np.testing.assert_allclose(joints[:, :, 0], root[..., POS].reshape(2, -1, 22, 3)[:, :, 0])
    np.testing.assert_allclose(joints - joints[:, :, :1], (pose[..., POS].reshape(2, -1, 22, 3)
                                                          - pose[..., POS].reshape(2, -1, 22, 3)[:, :, :1]))
    steps = moved[:, :-1, VEL].reshape(2, -1, 22, 3)  # (the last frame's next position is not in the clip)
    np.testing.assert_allclose(steps, joints[:, 1:] - joints[:, :-1], atol=1e-12)
    assert np.array_equal(moved[..., ROT], pose[..., ROT])


def test_rotation_groups_name_each_joints_six_columns():
    bench = _bench()
    spine = bench.rotation_columns(("spine1", "spine2", "spine3"))
    # Joint 1 (left hip) owns the first six rotation columns; spine1 is joint 3.
    assert list(spine[:6]) == list(range(ROT.start + 12, ROT.start + 18)) and len(spine) == 18
    every = np.concatenate([bench.rotation_columns(j) for j in bench.ROTATION_GROUPS.values()])
    assert sorted(every) == list(range(ROT.start, ROT.stop))  # the groups cover each rotation once


def test_angles_between_rotations_in_degrees():
    bench = _bench()
    turn = sk.matrix_to_rot6d(np.array([[np.cos(0.1), -np.sin(0.1), 0], [np.sin(0.1), np.cos(0.1), 0], [0, 0, 1]]))
    still = sk.matrix_to_rot6d(np.eye(3))
    np.testing.assert_allclose(bench.angles_deg(turn[None], still[None]), [np.degrees(0.1)], rtol=1e-6)


def test_holding_columns_at_the_clip_mean_keeps_their_mean_and_leaves_the_rest():
    bench = _bench()
    x = _walk(0.0, 0.02)
    trunk = bench.rotation_columns(bench.ROTATION_GROUPS["spine"])
    held = bench.held_at_clip_mean(x, trunk)
    np.testing.assert_allclose(held[..., trunk].std(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(held[..., trunk].mean(axis=1), x[..., trunk].mean(axis=1))
    others = np.setdiff1d(np.arange(262), trunk)
    assert np.array_equal(held[..., others], x[..., others])


def test_posture_correlation_tells_kept_postures_from_one_posture_for_all():
    bench = _bench()
    spine = bench.rotation_columns(("spine1",))
    rng = np.random.default_rng(1)
    gt = [_walk(0.0, 0.01) for _ in range(12)]
    for clip in gt:
        clip[..., spine] = rng.normal(size=(2, 1, 6))  # each person holds a posture of their own
    kept = [clip + rng.normal(size=clip.shape) * 0.01 for clip in gt]
    same = [clip.copy() for clip in gt]
    for clip in same:
        clip[..., spine] = 0.5
    assert bench.posture_correlation(kept, gt, spine) > 0.99
    assert bench.posture_correlation(same, gt, spine) == 0.0
    collar = bench.rotation_columns(("left_collar",))
    for clip in gt:
        clip[..., collar] = 0.0  # never turns: no posture to keep
    assert bench.posture_correlation(kept, gt, collar) is None
