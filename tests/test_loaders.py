"""Loading interaction files and uploaded partner motions, and refusing everything else with a sentence."""
import numpy as np
import pytest

from intermask.errors import InterMaskError
from intermask.motion import features as ft
from intermask.motion import files, loaders
from intermask.motion.bvh import write_bvh
from intermask.motion.interaction import Interaction, load_interaction
from intermask.motion.loaders import PartnerMotion, load_partner

from fixtures import random_interaction, random_person

MM = 1e-3


@pytest.fixture(scope="module")
def person():
    joints, rot6d = random_person(seed=1, frames=40, facing=np.pi, walk=True, speed=1.0)
    return joints, rot6d  # floor at y = 0 already


def assert_same_person(motion: PartnerMotion, joints, rot6d=None, frames=None):
    frames = frames or len(joints)
    assert isinstance(motion, PartnerMotion) and motion.fps == 30
    assert motion.joints.shape == (frames, 22, 3) and motion.rot6d.shape == (frames, 21, 6)
    assert motion.joints.dtype == np.float32 and motion.rot6d.dtype == np.float32
    assert np.abs(motion.joints - joints[:frames]).max() < MM
    if rot6d is not None:
        assert np.abs(motion.rot6d - rot6d[:frames]).max() < 1e-3


# ------------------------------------------------------------------------------------------------------
# Accepted formats
# ------------------------------------------------------------------------------------------------------

def test_exchange_file_round_trip_and_partner_is_person_a(tmp_path):
    clip = random_interaction(seed=2, frames=30, text="a hug")
    clip.save(tmp_path / "clip.npz")
    back = Interaction.load(tmp_path / "clip.npz")
    assert back.text == "a hug" and back.fps == 30 and np.array_equal(back.joints, clip.joints)
    assert back.meta == {"seed": 2}
    partner = load_partner(tmp_path / "clip.npz")
    floor = clip.joints[0, ..., 1].min()
    assert_same_person(partner, clip.joints[0] - [0, floor, 0], clip.rot6d[0])
    assert "person A" in partner.source


def test_interaction_and_array_sources(person):
    joints, rot6d = person
    clip = Interaction(np.stack([joints, joints + [1.0, 0, 0]]), np.stack([rot6d, rot6d]))
    assert_same_person(load_partner(clip), joints, rot6d)
    # Rotations solved from joints alone: bone directions are exact but twist about a bone is unknowable.
    assert_same_person(load_partner(joints), joints)


def test_npz_with_a_joints_array(tmp_path, person):
    joints, rot6d = person
    np.savez(tmp_path / "j.npz", joints=joints)
    assert_same_person(load_partner(tmp_path / "j.npz"), joints)
    np.savez(tmp_path / "jr.npz", joints=joints, rot6d=rot6d, fps=np.int32(30))
    assert_same_person(load_partner(tmp_path / "jr.npz"), joints, rot6d)


def test_npy_joints_features_and_raw(tmp_path, person):
    joints, rot6d = person
    np.save(tmp_path / "joints.npy", joints)
    assert_same_person(load_partner(tmp_path / "joints.npy"), joints)
    # (T, 492) raw InterHuman is Z-up; the loader turns it Y-up.
    np.save(tmp_path / "raw.npy", ft.make_raw(joints, rot6d))
    assert_same_person(load_partner(tmp_path / "raw.npy"), joints, rot6d)
    # (T, 262) de-normalised features: canonical positions and the stored rotations (T − 1 frames).
    feat, _, _ = ft.canonicalize(*ft.split_raw(ft.make_raw(joints, rot6d)))
    np.save(tmp_path / "feat.npy", feat)
    motion = load_partner(tmp_path / "feat.npy")
    assert motion.joints.shape == (39, 22, 3)
    assert np.allclose(motion.rot6d, rot6d[:-1], atol=1e-5)
    assert np.allclose(motion.joints[..., 1].min(), 0)


def test_bvh_and_resampling_to_30_fps(tmp_path, person):
    joints, rot6d = person
    write_bvh(tmp_path / "p.bvh", joints, rot6d)
    assert_same_person(load_partner(tmp_path / "p.bvh"), joints, rot6d)
    # The same motion declared at 60 fps lasts half as long: every second frame survives.
    write_bvh(tmp_path / "p60.bvh", joints, rot6d, fps=60)
    motion = load_partner(tmp_path / "p60.bvh")
    assert "resampled from 60" in motion.source
    assert_same_person(motion, joints[::2], rot6d[::2])
    # Two persons in one file: the first one is the partner.
    clip = random_interaction(seed=3, frames=20)
    write_bvh(tmp_path / "two.bvh", clip)
    assert "person 1 of 2" in load_partner(tmp_path / "two.bvh").source


def test_resample_interpolates_between_frames():
    joints, rot6d = random_person(seed=4, frames=11)
    new_joints, new_rot = loaders.resample(joints.astype(np.float64), rot6d, fps=10, target=20)
    assert new_joints.shape == (21, 22, 3) and new_rot.shape == (21, 21, 6)
    assert np.allclose(new_joints[::2], joints, atol=1e-6)
    assert np.allclose(new_joints[1], (joints[0] + joints[1]) / 2, atol=1e-6)


# ------------------------------------------------------------------------------------------------------
# Refusals, one per case
# ------------------------------------------------------------------------------------------------------

def refuses(source, match, **kw):
    with pytest.raises(InterMaskError, match=match):
        load_partner(source, **kw)


def test_refuses_pickled_and_object_arrays(tmp_path):
    obj = np.empty(3, dtype=object)
    obj[:] = [1, "a", None]
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    refuses(tmp_path / "obj.npy", "pickled")
    np.savez(tmp_path / "obj.npz", joints=obj)
    refuses(tmp_path / "obj.npz", "pickled")


def test_refuses_wrong_shapes_and_dtypes(person):
    joints, _ = person
    refuses(joints[..., :2], r"shape \(40, 22, 2\) is not supported")
    refuses(np.zeros((40, 100), np.float32), "not supported")
    refuses(joints.astype(np.int32), "floating-point")
    refuses(np.array(["a"] * 40 * 66).reshape(40, 22, 3), "floating-point")


def test_refuses_nan_and_inf(person):
    joints, _ = person
    for bad in (np.nan, np.inf):
        j = joints.copy()
        j[3, 4, 1] = bad
        refuses(j, "NaN or Inf")


@pytest.mark.parametrize("scale, match", [(100.0, "centimetres or millimetres"), (1000.0, "centimetres"),
                                          (0.1, "not a person in metres")])
def test_refuses_implausible_scale(person, scale, match):
    refuses(person[0] * scale, match)


def test_refuses_normalised_features(person):
    joints, rot6d = person
    feat, _, _ = ft.canonicalize(*ft.split_raw(ft.make_raw(joints, rot6d)))
    z = (feat - feat.mean(0)) / (feat.std(0) + 1e-3)
    refuses(z.astype(np.float32), "constant bone lengths|not a person")


def test_refuses_too_short_and_too_long(person):
    joints, _ = person
    refuses(joints[:7], "at least 8 are needed")
    long = np.tile(joints, (loaders.MAX_FRAMES // len(joints) + 1, 1, 1))
    refuses(long, "at most 10 minutes")
    refuses(joints[:20], "at least 8 are needed", fps=120)  # 20 frames at 120 fps → 5 frames at 30 fps
    assert load_partner(joints[:32], fps=120).num_frames == 8


def test_refuses_big_files_before_reading_them(tmp_path, monkeypatch, person):
    np.save(tmp_path / "big.npy", person[0])
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1024)

    def no_load(*a, **k):
        raise AssertionError("np.load must not be reached")

    monkeypatch.setattr(np, "load", no_load)
    refuses(tmp_path / "big.npy", "MB; at most")


def forged_npy(shape, descr="<f4", payload: int = 1000) -> bytes:
    """A .npy file whose header announces ``shape`` but which holds only ``payload`` bytes of data."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * payload


def test_refuses_headers_that_claim_more_data_than_the_file_holds(tmp_path, monkeypatch):
    """A 1 kB file claiming 10^12 frames: numpy would allocate first (MemoryError); we refuse from the header."""
    import zipfile

    (tmp_path / "absurd.npy").write_bytes(forged_npy((10 ** 12, 22, 3)))
    (tmp_path / "short.npy").write_bytes(forged_npy((100, 22, 3), payload=100 * 22 * 3 * 4 - 1))
    with zipfile.ZipFile(tmp_path / "absurd.npz", "w") as zf:
        zf.writestr("joints.npy", forged_npy((2, 10 ** 12, 22, 3)))
    with zipfile.ZipFile(tmp_path / "text.npz", "w") as zf:
        zf.writestr("joints.npy", forged_npy((40, 22, 3), payload=40 * 22 * 3 * 4))
        zf.writestr("notes.txt", "not an array")

    def no_load(*a, **k):
        raise AssertionError("np.load must not be reached")

    monkeypatch.setattr(np, "load", no_load)
    refuses(tmp_path / "absurd.npy", r"absurd.npy claims the shape \(1000000000000, 22, 3\) \(2.46e\+05 GB of "
                                     r"float32\) but holds only 1000 bytes of data")
    refuses(tmp_path / "short.npy", r"claims the shape \(100, 22, 3\) \(25.8 kB of float32\) but holds only "
                                    r"25.8 kB")
    refuses(tmp_path / "absurd.npz", r"The array 'joints' in absurd.npz claims the shape \(2, 1000000000000, 22, 3\)")
    refuses(tmp_path / "text.npz", "The array 'notes.txt' in text.npz is not a numpy array")
    with pytest.raises(InterMaskError, match="absurd.npz claims the shape"):
        load_interaction(tmp_path / "absurd.npz")


def test_a_file_holding_exactly_its_header_shape_loads(tmp_path):
    joints, _ = random_person(seed=3, frames=40)
    np.save(tmp_path / "exact.npy", joints)
    assert load_partner(tmp_path / "exact.npy").num_frames == 40


def test_refuses_archives_that_inflate_too_much(tmp_path, monkeypatch, person):
    np.savez_compressed(tmp_path / "z.npz", joints=person[0])
    monkeypatch.setattr(files, "MAX_UNPACKED_BYTES", 100)
    refuses(tmp_path / "z.npz", "unpacks to")


@pytest.mark.parametrize("name", ["notes.npy", "notes.npz", "notes.bvh"])
def test_refuses_text_files_renamed(tmp_path, name):
    (tmp_path / name).write_text("this is just a text file\nwith two lines\n")
    refuses(tmp_path / name, "not a numpy|not a valid BVH")


def test_refuses_unknown_extensions_missing_files_and_odd_sources(tmp_path):
    (tmp_path / "walk.fbx").write_bytes(b"Kaydara FBX Binary")
    refuses(tmp_path / "walk.fbx", "Unknown motion file type '.fbx'. Accepted")
    refuses(tmp_path / "nothing.npy", "does not exist")
    refuses(42, "file path, an Interaction or an array")
    (tmp_path / "empty.npy").write_bytes(b"")
    refuses(tmp_path / "empty.npy", "empty")


def test_npz_without_joints_or_with_bad_entries(tmp_path, person):
    joints, rot6d = person
    np.savez(tmp_path / "a.npz", positions=joints)
    refuses(tmp_path / "a.npz", "no 'joints' array")
    np.savez(tmp_path / "b.npz", joints=joints, rot6d=rot6d[:, :20])
    refuses(tmp_path / "b.npz", "'rot6d' array has shape")
    np.savez(tmp_path / "c.npz", joints=joints, fps=np.array([30, 60]))
    refuses(tmp_path / "c.npz", "'fps' entry")


def test_load_interaction_refuses_non_exchange_files(tmp_path, person):
    np.savez(tmp_path / "j.npz", joints=person[0])
    with pytest.raises(InterMaskError, match="no 'rot6d' array"):
        load_interaction(tmp_path / "j.npz")
    np.save(tmp_path / "j.npy", person[0])
    with pytest.raises(InterMaskError, match="must be an .npz"):
        load_interaction(tmp_path / "j.npy")
    clip = random_interaction(seed=5, frames=10)
    np.savez(tmp_path / "nan.npz", joints=clip.joints * np.nan, rot6d=clip.rot6d)
    with pytest.raises(InterMaskError, match="NaN"):
        load_interaction(tmp_path / "nan.npz")
