"""BVH export/import, the joints → rotations solver, and `python -m intermask export`."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intermask import skeleton as sk
from intermask.cli import main
from intermask.errors import InterMaskError
from intermask.motion.bvh import parse_bvh, read_bvh, write_bvh
from intermask.motion.solver import solve_rotations, solve_skeleton
from intermask.motion.features import Z_TO_Y

from fixtures import person_motion, random_interaction, random_person

MM = 1e-3

TEMPLATE_NAMES = ("Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot",
                  "RightFoot", "Spine2", "LeftToe", "RightToe", "Neck", "LeftShoulder", "RightShoulder", "Head",
                  "LeftArm", "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand")


def smpl_style(prefix_l, prefix_r, capital=True):
    """SMPL names in another spelling, e.g. L_Hip / LeftHip / Left_hip."""
    out = []
    for n in sk.JOINT_NAMES:
        side, _, part = n.partition("_") if n.startswith(("left_", "right_")) else ("", "", n)
        part = part.capitalize() if capital else part
        out.append((prefix_l if side == "left" else prefix_r if side == "right" else "") + part)
    return out


def foreign_bvh(local, root_pos, offsets, names, order="XYZ", scale=1.0, zup=False, fingers=False,
                position_channels=False, dummy_root=False):
    """A BVH written independently of write_bvh: any naming, Euler order, units, up axis and extra joints."""
    a = Z_TO_Y.T if zup else np.eye(3)  # file coordinates = a @ Y-up coordinates
    local = a @ local @ a.T
    offsets = offsets @ a.T * scale
    root_pos = root_pos @ a.T * scale
    children = {j: [c for c in range(22) if sk.PARENTS[c] == j] for j in range(22)}
    lines, columns = ["HIERARCHY"], []
    rot_ch = " ".join(f"{c}rotation" for c in order)

    def emit(j, depth):
        pad = "\t" * depth
        kw = "ROOT" if j == 0 and not dummy_root else "JOINT"
        off = np.zeros(3) if j == 0 else offsets[j]
        lines.append(f"{pad}{kw} {names[j]}\n{pad}{{\n{pad}\tOFFSET {off[0]:.7f} {off[1]:.7f} {off[2]:.7f}")
        euler = np.degrees(sk.matrix_to_euler(local[:, j], order))
        if j == 0 or position_channels:
            pos = root_pos if j == 0 else np.broadcast_to(off, (len(local), 3))
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_ch}")
            columns.append(np.concatenate([pos, euler], 1))
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rot_ch}")
            columns.append(euler)
        for c in children[j]:
            emit(c, depth + 1)
        if fingers and j in (20, 21):
            side = "left" if j == 20 else "right"
            lines.append(f"{pad}\tJOINT {side}_index1\n{pad}\t{{\n{pad}\t\tOFFSET {0.05 * scale} 0 0\n"
                         f"{pad}\t\tCHANNELS 3 Zrotation Xrotation Yrotation\n{pad}\t\tEnd Site\n{pad}\t\t{{\n"
                         f"{pad}\t\t\tOFFSET 0.02 0 0\n{pad}\t\t}}\n{pad}\t}}")
            columns.append(np.full((len(local), 3), 10.0))
        if not children[j]:
            lines.append(f"{pad}\tEnd Site\n{pad}\t{{\n{pad}\t\tOFFSET 0 0.05 0\n{pad}\t}}")
        lines.append(f"{pad}}}")

    if dummy_root:
        lines.append("ROOT Root\n{\n\tOFFSET 0 0 0\n\tCHANNELS 0")
        emit(0, 1)
        lines.append("}")
    else:
        emit(0, 0)
    data = np.concatenate(columns, 1)
    lines += ["MOTION", f"Frames: {len(data)}", "Frame Time: 0.0333333"]
    lines += [" ".join(f"{v:.7f}" for v in row) for row in data]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------
# Solver
# ------------------------------------------------------------------------------------------------------

def test_solver_is_exact_for_a_rigid_skeleton_with_other_proportions():
    rng = np.random.default_rng(0)
    local = sk.axis_angle_to_matrix(rng.normal(0, 0.4, size=(20, 22, 3)))
    local[:, 0] = sk.y_rotation(np.full(20, np.pi)) @ local[:, 0]  # facing −Z
    # Bones 10% longer or shorter and tilted away from the SMPL rest directions.
    offsets = sk.REST_OFFSETS * rng.uniform(0.9, 1.1, size=(22, 1)) + rng.normal(0, 0.01, size=(22, 3))
    joints, _ = sk.forward_kinematics(local, rng.normal(size=(20, 3)), offsets)
    solved, used = solve_skeleton(joints)
    back, _ = sk.forward_kinematics(solved, joints[:, 0], used)
    assert np.abs(back - joints).max() < 1e-9
    # With the true rotations as hint, the twist of every joint is recovered, not only bone directions.
    hint = sk.matrix_to_rot6d(local[:, 1:])
    same = solve_rotations(sk.forward_kinematics(local, np.zeros((20, 3)))[0], hint)
    assert np.abs(same - hint).max() < 1e-5


def test_solver_refuses_bad_shapes_and_nan():
    with pytest.raises(InterMaskError, match=r"\(T, 22, 3\)"):
        solve_rotations(np.zeros((5, 21, 3)))
    with pytest.raises(InterMaskError, match="NaN"):
        solve_rotations(np.full((5, 22, 3), np.nan))


# ------------------------------------------------------------------------------------------------------
# Round trips through our own files
# ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("facing", [0.0, np.pi, 2.0])
def test_round_trip_within_a_millimetre(tmp_path, facing):
    joints, rot6d = random_person(seed=1, frames=30, facing=facing, walk=True, speed=1.2)
    [path] = write_bvh(tmp_path / "walk.bvh", joints, rot6d)
    [back] = read_bvh(path)
    assert back.fps == 30 and back.joints.shape == (30, 22, 3)
    assert np.abs(back.joints - joints).max() < MM
    assert np.abs(back.rot6d - rot6d).max() < 1e-4  # the file carries the same local rotations
    # The root rotation in the file turns the rest pose to the person's actual facing.
    text = path.read_text()
    assert "ROOT pelvis" in text and "JOINT right_wrist" in text and text.count("End Site") == 5


def test_round_trip_without_rotation_hint(tmp_path):
    joints, _ = random_person(seed=2, frames=20, facing=np.pi)
    [path] = write_bvh(tmp_path / "a.bvh", joints)
    [back] = read_bvh(path)
    assert np.abs(back.joints - joints).max() < MM


def test_gimbal_lock_pose_survives_the_euler_channels(tmp_path):
    # Elbow bent exactly 90° about Y: the middle ZYX angle is at gimbal lock.
    rng = np.random.default_rng(3)
    joints, local, offsets = person_motion(rng, 10)
    local[:, 18] = sk.euler_to_matrix(np.array([0.7, np.pi / 2, -0.4]), "ZYX")
    local[:, 0] = sk.euler_to_matrix(np.array([0.2, -np.pi / 2, 1.0]), "ZYX")
    joints, _ = sk.forward_kinematics(local, joints[:, 0], offsets)
    rot6d = sk.matrix_to_rot6d(local[:, 1:])
    [path] = write_bvh(tmp_path / "lock.bvh", joints, rot6d)
    [back] = read_bvh(path)
    assert np.abs(back.joints - joints).max() < MM
    assert np.abs(back.rot6d - rot6d).max() < 1e-4


def test_two_persons_in_one_file_and_per_person_files(tmp_path):
    clip = random_interaction(seed=4, frames=25)
    [both] = write_bvh(tmp_path / "pair.bvh", clip)
    text = both.read_text()
    assert text.count("ROOT ") == 2 and "ROOT A:pelvis" in text and "ROOT B:pelvis" in text
    persons = read_bvh(both)
    assert len(persons) == 2
    for p in range(2):
        assert np.abs(persons[p].joints - clip.joints[p]).max() < MM
    files = write_bvh(tmp_path / "pair.bvh", clip, per_person=True)
    assert [f.name for f in files] == ["pair_A.bvh", "pair_B.bvh"]
    assert np.abs(read_bvh(files[1])[0].joints - clip.joints[1]).max() < MM


def test_frame_rate_is_kept(tmp_path):
    joints, rot6d = random_person(seed=5, frames=12)
    [path] = write_bvh(tmp_path / "x.bvh", joints, rot6d, fps=60)
    assert read_bvh(path)[0].fps == 60


# ------------------------------------------------------------------------------------------------------
# Files from elsewhere
# ------------------------------------------------------------------------------------------------------

FOREIGN = {
    "smpl-lower": (list(sk.JOINT_NAMES), {}),
    "L_Hip": (smpl_style("L_", "R_"), {"order": "YXZ"}),
    "LeftHip": (smpl_style("Left", "Right"), {"order": "XYZ", "fingers": True}),
    "Left_hip": (smpl_style("Left_", "Right_", capital=False), {"position_channels": True}),
    "template-cm": (list(TEMPLATE_NAMES), {"scale": 100.0, "fingers": True}),
    "template-zup": (list(TEMPLATE_NAMES), {"zup": True, "order": "ZXY"}),
    "mixamo-prefixed-mm": ([f"mixamorig:{n}" for n in TEMPLATE_NAMES], {"scale": 1000.0, "dummy_root": True}),
}


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_reads_other_namings_units_axes_and_channel_orders(tmp_path, case):
    names, kw = FOREIGN[case]
    rng = np.random.default_rng(6)
    joints, local, offsets = person_motion(rng, 12, facing=np.pi, walk=True)
    path = tmp_path / "in.bvh"
    path.write_text(foreign_bvh(local, joints[:, 0], offsets, names, **kw))
    [back] = read_bvh(path)
    assert np.abs(back.joints - joints).max() < MM
    assert back.fps == 30
    assert np.abs(back.rot6d - sk.matrix_to_rot6d(local[:, 1:])).max() < 1e-3


def test_refuses_a_skeleton_lying_on_its_side(tmp_path):
    rng = np.random.default_rng(7)
    joints, local, offsets = person_motion(rng, 5)
    side = sk.axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))  # rest pose along −X
    path = tmp_path / "side.bvh"
    path.write_text(foreign_bvh(local, joints[:, 0], offsets @ side.T, list(sk.JOINT_NAMES)))
    with pytest.raises(InterMaskError, match="which axis is up"):
        read_bvh(path)


# ------------------------------------------------------------------------------------------------------
# Malformed input
# ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def valid_text():
    joints, rot6d = random_person(seed=8, frames=6)
    rng = np.random.default_rng(8)
    _, local, offsets = person_motion(rng, 6)
    return foreign_bvh(local, joints[:, 0], offsets, list(sk.JOINT_NAMES))


def test_valid_fixture_parses(valid_text):
    assert len(parse_bvh(valid_text)) == 1


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t[: len(t) * 2 // 3], "numbers after the header"),  # truncated
    (lambda t: t.replace("CHANNELS 3", "CHANNELS 2", 1), "unknown or repeated channel|unexpected word"),
    (lambda t: t.replace("left_wrist", "left_paw"), "lacks the body joints left_wrist"),
    (lambda t: t.replace("Frames: 6", "Frames: 5"), "numbers after the header"),
    (lambda t: t.replace("Frames: 6", "Frames: 99999999999"), "frame count"),
    (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: 0"), "frame time"),
    (lambda t: t[: t.rindex("\n", 0, len(t) - 2)] + "\n1 2 abc" + " 0" * 66 + "\n", "not a number|numbers after"),
    (lambda t: t.replace("MOTION", "MOTON"), "no MOTION"),
    (lambda t: t.replace("HIERARCHY", "HIERARCHIE"), "HIERARCHY"),
    (lambda t: t.replace("}", "", 1), "unclosed|misplaced"),
    (lambda t: t.replace("OFFSET 0.0000000", "OFFSET nan", 1), "not finite"),
    (lambda t: "name,x,y,z\n1,2,3,4\n", "no MOTION"),
])
def test_malformed_files_raise_a_sentence(tmp_path, valid_text, mutate, message):
    path = tmp_path / "bad.bvh"
    path.write_text(mutate(valid_text))
    with pytest.raises(InterMaskError, match=message):
        read_bvh(path)


def test_binary_and_oversized_files(tmp_path):
    path = tmp_path / "bin.bvh"
    path.write_bytes(b"HIERARCHY\x00\x01\x02")
    with pytest.raises(InterMaskError, match="binary"):
        read_bvh(path)
    path.write_bytes(b"x" * 2048)
    with pytest.raises(InterMaskError, match="MB"):
        read_bvh(path, max_bytes=1024)


def _mutations():
    return st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["del", "dup", "ins", "cut"]),
                              st.text(alphabet="{} \n0123456789.-eJOINTENDSiteCHANNELSXrotationFrames:",
                                      max_size=8)), min_size=1, max_size=4)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_random_bytes_only_ever_raise_intermask_error(data):
    try:
        parse_bvh(data.decode("utf-8", errors="replace"))
    except InterMaskError:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_mutations())
def test_mutated_files_only_ever_raise_intermask_error(valid_text, edits):
    text = valid_text
    for pos, kind, s in edits:
        i = pos % (len(text) + 1)
        if kind == "del":
            text = text[:i] + text[i + 5:]
        elif kind == "dup":
            text = text[:i] + text[i:i + 40] + text[i:]
        elif kind == "ins":
            text = text[:i] + s + text[i:]
        else:
            text = text[:i]
    try:
        for person in parse_bvh(text):
            assert person.joints.shape[1:] == (22, 3) and np.isfinite(person.joints).all()
    except InterMaskError:
        pass


# ------------------------------------------------------------------------------------------------------
# The export command
# ------------------------------------------------------------------------------------------------------

def test_export_command_writes_bvh(tmp_path, capsys):
    clip = random_interaction(seed=9, frames=15)
    clip.save(tmp_path / "clip.npz")
    assert main(["export", "--motion", str(tmp_path / "clip.npz"), "--bvh", str(tmp_path / "out.bvh")]) == 0
    assert len(read_bvh(tmp_path / "out.bvh")) == 2
    assert main(["export", "--motion", str(tmp_path / "clip.npz"), "--bvh", str(tmp_path / "out.bvh"),
                 "--per-person"]) == 0
    assert (tmp_path / "out_A.bvh").is_file() and (tmp_path / "out_B.bvh").is_file()
    assert "out_B.bvh" in capsys.readouterr().out


def test_export_command_glb_and_errors(tmp_path, capsys):
    clip = random_interaction(seed=10, frames=15)
    clip.save(tmp_path / "clip.npz")
    code = main(["export", "--motion", str(tmp_path / "clip.npz"), "--glb", str(tmp_path / "out.glb")])
    err = capsys.readouterr().err
    # Either the GLB writer exists and wrote the file, or the command says clearly that it is unavailable.
    assert (code == 0 and (tmp_path / "out.glb").is_file()) or (code == 2 and "GLB export" in err)
    assert main(["export", "--motion", str(tmp_path / "clip.npz")]) == 2
    assert "Nothing to export" in capsys.readouterr().err
    assert main(["export", "--motion", str(tmp_path / "missing.npz"), "--bvh", str(tmp_path / "o.bvh")]) == 2
    assert "does not exist" in capsys.readouterr().err
