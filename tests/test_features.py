"""The raw InterHuman layout, canonicalisation, pair placement, mirroring and normalisation (docs/design-notes.md)."""
import numpy as np
import torch

from intermask import skeleton as sk
from intermask.motion import features as ft
from intermask.motion.mirror import mirror_positions, mirror_raw, mirror_rot6d, mirror_text
from intermask.motion.normalize import Normalizer

from fixtures import person_motion, random_pair, random_person


def raw_pair(seed=0, frames=50):
    joints, rot6d = random_pair(np.random.default_rng(seed), frames)
    return joints, rot6d, [ft.make_raw(joints[p], rot6d[p]) for p in range(2)]


def test_make_raw_and_split_raw_round_trip_through_z_up():
    joints, rot6d = random_person(seed=1, frames=20)
    raw = ft.make_raw(joints, rot6d)
    assert raw.shape == (20, ft.RAW_DIM) and raw.dtype == np.float32
    pos_zup, rot = ft.split_raw(raw)
    # Z-up: the raw third coordinate is the height (the Y-up y).
    assert np.allclose(pos_zup[..., 2], joints[..., 1], atol=1e-6)
    assert np.allclose(pos_zup @ ft.Z_TO_Y.T, joints, atol=1e-6)
    assert np.allclose(rot, rot6d)


def test_canonicalize_floor_origin_and_facing():
    rng = np.random.default_rng(2)
    joints, local, _ = person_motion(rng, 40, facing=2.3, start_xz=(1.5, -0.7), speed=0.5)
    joints[..., 1] += 0.4  # floating above the floor: canonicalisation must bring it down
    raw = ft.make_raw(joints, sk.matrix_to_rot6d(local[:, 1:]))
    feat, q, root_init = ft.canonicalize(*ft.split_raw(raw))
    assert feat.shape == (39, ft.FEATURE_DIM)
    pos = ft.features_to_joints(feat)
    assert abs(pos[..., 1].min()) < 1e-6  # floor at 0 (the last frame is not in the features but is higher here)
    assert np.allclose(pos[0, 0, [0, 2]], 0, atol=1e-6)  # root at the x/z origin at frame 0
    across = pos[0, 2] - pos[0, 1]  # right hip − left hip points to −X when facing +Z
    assert across[0] < 0 and abs(across[2]) < 1e-5
    assert np.allclose(root_init, [joints[0, 0, 0], 0, joints[0, 0, 2]], atol=1e-5)
    # Velocities are next-frame differences; rotations are copied unchanged.
    assert np.allclose(feat[:-1, ft.VEL], feat[1:, ft.POS] - feat[:-1, ft.POS], atol=1e-5)
    assert np.allclose(feat[:, ft.ROT], raw[:-1, 186:312])
    # Distances inside the body are preserved.
    assert np.allclose(sk.bone_lengths(pos), sk.bone_lengths(joints[:-1]), atol=1e-5)


def test_foot_contacts_need_a_still_low_foot():
    pos = np.zeros((4, 22, 3))
    pos[:, 7, 1] = [0.05, 0.05, 0.30, 0.30]  # left ankle: low and still, then lifted
    pos[:, 8, 1] = 0.05
    pos[:, 8, 0] = [0.0, 0.5, 1.0, 1.5]  # right ankle low but sliding fast
    contacts = ft.foot_contacts(pos)
    assert contacts.shape == (3, 4)
    assert contacts[0, 0] == 1 and contacts[1, 0] == 0  # frame 1 → 2 jumps up by 25 cm
    assert (contacts[:, 2] == 0).all()


def test_pair_features_keep_person_two_where_it_was():
    joints, _, raws = raw_pair(seed=3, frames=30)
    f1, f2 = ft.pair_features(*raws)
    p1, p2 = ft.features_to_joints(f1), ft.features_to_joints(f2)
    xz = [0, 2]
    h1, h2, g1, g2 = joints[0, :-1][..., xz], joints[1, :-1][..., xz], p1[..., xz], p2[..., xz]
    world = np.linalg.norm(h1[:, :, None] - h2[:, None], axis=-1)
    canon = np.linalg.norm(g1[:, :, None] - g2[:, None], axis=-1)
    # Horizontal distances between every joint of A and every joint of B are preserved ...
    assert np.allclose(canon, world, atol=1e-4)
    # ... and heights are each person's own height above its own lowest point (the floor step of canonicalisation).
    for p, pos in enumerate((p1, p2)):
        assert np.allclose(pos[..., 1], joints[p, :-1, :, 1] - joints[p, ..., 1].min(), atol=1e-5)
    assert np.allclose(p1[0, 0, xz], 0, atol=1e-6)
    assert world.min() > 0.1  # the persons really are apart, so the check above means something


def test_features_from_joints_keeps_the_world_frame():
    joints, rot6d = random_person(seed=4, frames=12)
    feat = ft.features_from_joints(joints, rot6d)
    assert feat.shape == (11, 262)
    assert np.allclose(ft.features_to_joints(feat), joints[:-1], atol=1e-6)
    assert np.allclose(ft.features_to_rot6d(feat), rot6d[:-1])


def test_mirror_raw_is_an_involution_and_mirrors_geometry():
    joints, rot6d, raws = raw_pair(seed=5, frames=10)
    twice = mirror_raw(mirror_raw(raws[0]))
    assert np.allclose(twice, raws[0])
    pos, _ = ft.split_raw(mirror_raw(raws[0]))
    orig, _ = ft.split_raw(raws[0])
    assert np.allclose(pos[:, 1, 0], -orig[:, 2, 0])  # new left hip = old right hip, x negated
    assert np.allclose(mirror_positions(mirror_positions(joints[0])), joints[0])


def test_mirror_rot6d_matches_reflected_forward_kinematics():
    # Mirroring the local rotations and the skeleton must give the mirror image of the posed joints.
    rng = np.random.default_rng(6)
    joints, local, offsets = person_motion(rng, 8)
    mirrored_local = sk.rot6d_to_matrix(mirror_rot6d(sk.matrix_to_rot6d(local[:, 1:])))
    s = np.diag([-1.0, 1.0, 1.0])
    root = s @ local[:, 0] @ s
    all_local = np.concatenate([root[:, None], mirrored_local], 1)
    mirrored_offsets = (offsets @ s)[list(sk.MIRROR_PERMUTATION)]
    got, _ = sk.forward_kinematics(all_local, joints[:, 0] * [-1, 1, 1], mirrored_offsets)
    assert np.allclose(got, mirror_positions(joints), atol=1e-9)


def test_mirrored_stats_centre_the_root_x():
    feats = []
    for seed in range(3):
        _, _, raws = raw_pair(seed=seed, frames=30)
        for pair in (raws, [mirror_raw(r) for r in raws]):
            feats.extend(ft.pair_features(*pair))
    norm = Normalizer.fit(np.concatenate(feats))
    assert abs(norm.mean[0]) < 1e-6  # root x
    assert abs(norm.mean[66]) < 1e-6  # root x velocity
    unmirrored = Normalizer.fit(np.concatenate(feats[0::4] + feats[1::4]))
    assert abs(unmirrored.mean[0]) > 1e-3  # the test would notice if mirroring did nothing


def test_mirror_text_whole_words_only():
    assert mirror_text("He raises his left hand, then his Right.") == "He raises his right hand, then his Left."
    assert mirror_text("spins counterclockwise then clockwise") == "spins clockwise then counterclockwise"
    assert mirror_text("stands upright in bright light") == "stands upright in bright light"
    assert mirror_text("LEFT leftward") == "RIGHT rightward"
    assert mirror_text("a right-handed shake, then counter-clockwise") == "a left-handed shake, then clockwise"


def test_normalizer_round_trip_numpy_torch_and_file(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(2.0, 3.0, size=(100, 262)).astype(np.float32)
    norm = Normalizer.fit(x)
    y = norm.normalize(x)
    assert np.allclose(y.mean(0), 0, atol=1e-4) and np.allclose(y.std(0), 1, atol=1e-3)
    assert np.allclose(norm.denormalize(y), x, atol=1e-4)
    t = norm.normalize(torch.from_numpy(x))
    assert torch.allclose(t, torch.from_numpy(y), atol=1e-5)
    norm.save(tmp_path / "stats.npz")
    back = Normalizer.load(tmp_path / "stats.npz")
    assert np.array_equal(back.mean, norm.mean) and np.array_equal(back.std, norm.std)


def test_velocity_fusion_fits_positions_to_the_decoded_velocities_too():
    # A decoder's view: each frame's positions off by independent noise, its velocity channel close to the truth.
    rng = np.random.default_rng(0)
    truth = random_person(seed=1, frames=61, walk=True)[0]  # (61, 22, 3) joints
    feat = ft.features_from_joints(truth, np.zeros((61, 21, 6)))
    noisy = feat.copy()
    noisy[:, ft.POS] += rng.normal(0.0, 0.03, noisy[:, ft.POS].shape)
    noisy[:, ft.VEL] += rng.normal(0.0, 0.003, noisy[:, ft.VEL].shape)

    assert ft.fuse_velocities(noisy, 0.0) is noisy  # weight 0: the paper's decoding, untouched
    fused = ft.fuse_velocities(noisy, 16.0)
    err = {name: np.abs(ft.features_to_joints(x) - truth[:-1]).mean() for name, x in (("noisy", noisy), ("fused", fused))}
    assert err["fused"] < 0.5 * err["noisy"]
    # The velocities now describe the positions, and nothing but positions and velocities changed.
    assert np.allclose(fused[:-1, ft.VEL], fused[1:, ft.POS] - fused[:-1, ft.POS], atol=1e-5)
    assert np.array_equal(fused[:, ft.ROT], noisy[:, ft.ROT]) and np.array_equal(fused[:, ft.CONTACT], noisy[:, ft.CONTACT])
    # Clips in a batch are fitted one by one, and a shifted clip gives the same clip shifted.
    pair = ft.fuse_velocities(np.stack([noisy, noisy[::-1].copy()]), 16.0)
    assert np.allclose(pair[0], fused, atol=1e-5)
    assert np.allclose(pair[1], ft.fuse_velocities(noisy[::-1].copy(), 16.0), atol=1e-5)
    shifted = noisy.copy()
    shifted[:, ft.POS] += np.tile([1.0, 0.0, -2.0], 22)
    assert np.allclose(ft.fuse_velocities(shifted, 16.0)[:, ft.POS], fused[:, ft.POS] + np.tile([1.0, 0.0, -2.0], 22),
                       atol=1e-4)
