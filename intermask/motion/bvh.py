"""BVH export and import for the 22-joint SMPL body (rotations from ``intermask.motion.solver``).

Files we write: Y-up, metres, one ROOT per person (or one file per person). Joint names are the SMPL names of
``skeleton.JOINT_NAMES`` (``pelvis``, ``left_hip``, ..., ``right_wrist``); with two persons in one file they are
prefixed ``A:``/``B:`` so that every bone name is unique. The hierarchy is ``skeleton.PARENTS``; the root has
channels ``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, every other joint
``Zrotation Yrotation Xrotation`` (R = Rz·Ry·Rx, degrees); end sites follow the head, wrists and toes. The rest
pose is the SMPL T-pose (bone directions of ``skeleton.REST_OFFSETS``) scaled to the person's bone lengths, so a
joint's BVH rotation is its SMPL local rotation.

Files we read: ours, and 22-joint SMPL-like BVH from elsewhere — SMPL names (``left_hip``, ``L_Hip``,
``LeftHip``...) or the template names (``Hips``, ``LeftUpLeg``, ``LeftLeg``, ``LeftFoot``, ``LeftToe``, ``Spine``,
``Spine1``, ``Spine2``, ``Neck``, ``Head``, ``LeftShoulder``, ``LeftArm``, ``LeftForeArm``, ``LeftHand``), any
channel order, position channels on any joint, extra joints (fingers) ignored, centimetres or millimetres and
Z-up detected from the rest skeleton.
"""
from __future__ import annotations

import io
import math
import os
import re
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError
from intermask.motion.interaction import Interaction
from intermask.motion.solver import _CHILDREN, solve_rotations, solve_skeleton

MAX_BVH_BYTES = 50 * 1024 * 1024
MAX_BVH_FRAMES = 1_000_000
MAX_BVH_JOINTS = 1024
MAX_BVH_DEPTH = 256
PERSON_PREFIXES = ("A", "B", "C", "D")

# End-site offsets in rest directions (metres at unit scale): only for a visible last bone in viewers.
_END_SITES = {15: (0.0, 0.10, 0.0), 20: (0.08, 0.0, 0.0), 21: (-0.08, 0.0, 0.0),
              10: (0.0, 0.0, 0.05), 11: (0.0, 0.0, 0.05)}


class BVHMotion(NamedTuple):
    joints: np.ndarray  # (T, 22, 3) float32, Y-up metres
    rot6d: np.ndarray  # (T, 21, 6) float32 local rotations of joints 1..21
    fps: float


# ------------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------------

def _persons(motion, rot6d, fps) -> tuple[np.ndarray, np.ndarray | None, float]:
    if isinstance(motion, Interaction):
        return motion.joints, motion.rot6d, float(motion.fps)
    joints = np.asarray(motion, dtype=np.float64)
    if joints.ndim == 3:
        joints = joints[None]
        rot6d = None if rot6d is None else np.asarray(rot6d)[None]
    if joints.ndim != 4 or joints.shape[2:] != (sk.NUM_JOINTS, 3):
        raise InterMaskError(f"BVH export needs joints of shape (P, T, 22, 3) or (T, 22, 3); got {joints.shape}.")
    return joints, rot6d, float(fps)


def _hierarchy(prefix: str, offsets: np.ndarray, out: list[str]) -> list[int]:
    """Append one person's HIERARCHY block; return joint indices in channel (depth-first) order."""
    order: list[int] = []

    def visit(j: int, depth: int) -> None:
        pad = "  " * depth
        order.append(j)
        name = prefix + sk.JOINT_NAMES[j]
        if j == 0:
            out.append(f"ROOT {name}\n{{\n  OFFSET 0.000000 0.000000 0.000000\n"
                       "  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\n")
        else:
            o = offsets[j]
            out.append(f"{pad}JOINT {name}\n{pad}{{\n{pad}  OFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}\n"
                       f"{pad}  CHANNELS 3 Zrotation Yrotation Xrotation\n")
        for c in _CHILDREN[j]:
            visit(c, depth + 1)
        if j in _END_SITES:
            scale = np.linalg.norm(offsets[sk.PARENTS[j]] if j in (10, 11) else offsets[j]) / max(
                np.linalg.norm(sk.REST_OFFSETS[sk.PARENTS[j]] if j in (10, 11) else sk.REST_OFFSETS[j]), 1e-9)
            e = np.array(_END_SITES[j]) * scale
            out.append(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}\n"
                       f"{pad}  }}\n")
        out.append(f"{pad}}}\n")

    visit(0, 0)
    return order


def _channels(joints: np.ndarray, local: np.ndarray, order: list[int]) -> np.ndarray:
    """(T, 6 + 3·21) channel values: root position then ZYX Euler degrees per joint in file order."""
    eul = np.degrees(sk.matrix_to_euler(local[:, order], "ZYX"))  # (T, 22, 3)
    # Unwrap each angle over time: same poses, but no ±180° jumps for the importer's curves.
    eul = np.unwrap(eul, period=360.0, axis=0)
    return np.concatenate([joints[:, 0], eul.reshape(len(eul), -1)], axis=1)


def write_bvh(path: str | os.PathLike, motion, rot6d: np.ndarray | None = None, fps: float = 30,
              per_person: bool = False) -> list[Path]:
    """Write joints (P, T, 22, 3) / (T, 22, 3) or an Interaction as BVH; returns the files written.

    rot6d (P, T, 21, 6) is an optional twist hint (an Interaction's own rotations are used). With
    ``per_person`` and several persons, person k goes to ``<stem>_A.bvh``, ``<stem>_B.bvh``...; otherwise all
    persons share one file with one ROOT each and bone names prefixed ``A:``, ``B:``.
    """
    joints, rot6d, fps = _persons(motion, rot6d, fps)
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        raise InterMaskError(f"The frame rate must be between 0 and 1000 fps; got {fps}.")
    if joints.shape[0] > len(PERSON_PREFIXES):
        raise InterMaskError(f"BVH export supports at most {len(PERSON_PREFIXES)} persons.")
    solved = [solve_skeleton(joints[p], None if rot6d is None else rot6d[p]) for p in range(joints.shape[0])]
    path = Path(path)
    if per_person and joints.shape[0] > 1:
        groups = [([p], path.with_name(f"{path.stem}_{PERSON_PREFIXES[p]}{path.suffix or '.bvh'}"), False)
                  for p in range(joints.shape[0])]
    else:
        groups = [(list(range(joints.shape[0])), path, joints.shape[0] > 1)]
    written = []
    for persons, out_path, prefixed in groups:
        header = ["HIERARCHY\n"]
        columns = []
        for p in persons:
            local, offsets = solved[p]
            order = _hierarchy(f"{PERSON_PREFIXES[p]}:" if prefixed else "", offsets, header)
            columns.append(_channels(joints[p].astype(np.float64), local, order))
        data = np.concatenate(columns, axis=1)
        header.append(f"MOTION\nFrames: {data.shape[0]}\nFrame Time: {1.0 / fps:.8f}\n")
        buf = io.StringIO()
        buf.write("".join(header))
        np.savetxt(buf, data, fmt="%.6f")
        _atomic_write(out_path, buf.getvalue())
        written.append(out_path)
    return written


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".bvh.tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ------------------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------------------

class _Joint:
    __slots__ = ("name", "parent", "offset", "channels")

    def __init__(self, name: str, parent: int):
        self.name, self.parent, self.offset, self.channels = name, parent, None, []


_CHANNEL_NAMES = {f"{a}{k}": (k, a) for a in "XYZ" for k in ("position", "rotation")}


def _bad(what: str) -> InterMaskError:
    return InterMaskError(f"This is not a valid BVH file: {what}. Expected a HIERARCHY section with ROOT/JOINT "
                          "blocks, then MOTION with 'Frames:', 'Frame Time:' and one line of numbers per frame.")


def _float(tok: str, what: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise _bad(f"{what} '{tok[:20]}' is not a number") from None
    if not math.isfinite(v):
        raise _bad(f"{what} is not finite")
    return v


def _parse_hierarchy(tokens: list[str]) -> list[_Joint]:
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise _bad("it does not start with HIERARCHY")
    joints: list[_Joint] = []
    stack: list[int] = []  # joint index, or -1 for an End Site block
    i, n = 1, len(tokens)

    def need(k: int) -> None:
        if i + k > n:
            raise _bad("the hierarchy ends in the middle of a block")

    while i < n:
        tok = tokens[i].upper()
        if tok in ("ROOT", "JOINT"):
            need(3)
            if (tok == "ROOT") != (not stack) or (stack and stack[-1] < 0) or tokens[i + 2] != "{":
                raise _bad(f"misplaced {tokens[i]} block")
            if len(joints) >= MAX_BVH_JOINTS or len(stack) >= MAX_BVH_DEPTH:
                raise _bad(f"more than {MAX_BVH_JOINTS} joints or {MAX_BVH_DEPTH} levels")
            joints.append(_Joint(tokens[i + 1], stack[-1] if stack else -1))
            stack.append(len(joints) - 1)
            i += 3
        elif tok == "END":
            need(3)
            if not stack or stack[-1] < 0 or tokens[i + 1].upper() != "SITE" or tokens[i + 2] != "{":
                raise _bad("misplaced End Site block")
            stack.append(-1)
            i += 3
        elif tok == "OFFSET":
            need(4)
            if not stack:
                raise _bad("OFFSET outside a joint")
            off = [_float(t, "an OFFSET value") for t in tokens[i + 1:i + 4]]
            if stack[-1] >= 0:
                joints[stack[-1]].offset = np.array(off)
            i += 4
        elif tok == "CHANNELS":
            need(2)
            if not stack or stack[-1] < 0:
                raise _bad("CHANNELS outside a joint")
            try:
                count = int(tokens[i + 1])
            except ValueError:
                raise _bad("a CHANNELS count is not an integer") from None
            if not 0 <= count <= 6:
                raise _bad(f"a joint has {count} channels (0 to 6 allowed)")
            need(2 + count)
            names = [tokens[i + 2 + k].capitalize() for k in range(count)]
            if any(c not in _CHANNEL_NAMES for c in names) or len(set(names)) != count:
                raise _bad(f"joint {joints[stack[-1]].name[:40]} has unknown or repeated channel names")
            joints[stack[-1]].channels = [_CHANNEL_NAMES[c] for c in names]
            i += 2 + count
        elif tok == "}":
            if not stack:
                raise _bad("an unmatched '}'")
            stack.pop()
            i += 1
        else:
            raise _bad(f"unexpected word '{tokens[i][:20]}' in the hierarchy")
    if stack or not joints:
        raise _bad("the hierarchy is empty or has unclosed blocks")
    for j in joints:
        if j.offset is None:
            raise _bad(f"joint {j.name[:40]} has no OFFSET")
    return joints


def _parse_motion(tokens: list[str], n_channels: int) -> tuple[np.ndarray, float]:
    if len(tokens) < 5 or tokens[0].lower() != "frames:" or tokens[2].lower() != "frame" \
            or tokens[3].lower() != "time:":
        raise _bad("the MOTION section must begin with 'Frames: N' and 'Frame Time: seconds'")
    try:
        frames = int(tokens[1])
    except ValueError:
        raise _bad("the frame count is not an integer") from None
    if not 1 <= frames <= MAX_BVH_FRAMES:
        raise _bad(f"the frame count {frames} is outside 1..{MAX_BVH_FRAMES}")
    dt = _float(tokens[4], "the frame time")
    if not 1e-3 <= dt <= 1.0:
        raise _bad(f"the frame time {dt} s is outside 0.001..1 s")
    values = tokens[5:]
    if len(values) != frames * n_channels:
        raise _bad(f"it holds {len(values)} numbers after the header, but {frames} frames × {n_channels} "
                   f"channels = {frames * n_channels} were announced (truncated or wrong channel counts?)")
    try:
        data = np.array(values, dtype=np.float64).reshape(frames, n_channels)
    except ValueError:
        raise _bad("a frame holds a value that is not a number") from None
    if not np.isfinite(data).all():
        raise _bad("a frame holds NaN or Inf")
    fps = 1.0 / dt
    # "Frame Time: 0.0333333" means 30 fps: snap rates within 0.01 of an integer.
    return data, float(round(fps)) if abs(fps - round(fps)) < 0.01 else fps


# ------------------------------------------------------------------------------------------------------
# Naming: map a file's joints onto the 22 SMPL joints
# ------------------------------------------------------------------------------------------------------

_SIDED_SMPL = {"hip": 1, "thigh": 1, "knee": 4, "ankle": 7, "foot": 10, "toe": 10, "toes": 10, "collar": 13,
               "clavicle": 13, "shoulder": 16, "elbow": 18, "wrist": 20}
_SIDED_TEMPLATE = {"upleg": 1, "thigh": 1, "upperleg": 1, "leg": 4, "lowerleg": 4, "shin": 4, "calf": 4,
                   "foot": 7, "toe": 10, "toes": 10, "toebase": 10, "shoulder": 13, "clavicle": 13, "collar": 13,
                   "arm": 16, "upperarm": 16, "forearm": 18, "lowerarm": 18, "hand": 20, "wrist": 20}
_CENTRE_SMPL = {"pelvis": 0, "hips": 0, "spine1": 3, "spine2": 6, "spine3": 9, "neck": 12, "head": 15}
_CENTRE_TEMPLATE = {"pelvis": 0, "hips": 0, "hip": 0, "spine": 3, "spine1": 6, "spine2": 9, "neck": 12, "head": 15}


def _split_name(name: str) -> tuple[str, str]:
    """'mixamorig:LeftUpLeg' → ('L', 'upleg'); 'R_Hip' → ('R', 'hip'); 'spine3' → ('', 'spine3')."""
    name = name.rsplit(":", 1)[-1]
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    if not words:
        return "", ""
    side = ""
    for k in (0, -1):
        w = words[k].lower()
        if len(words) > 1 and w in ("l", "left", "r", "right"):
            side = w[0].upper()
            del words[k]
            break
    flat = "".join(words).lower()
    if not side:
        m = re.fullmatch(r"(left|right|l|r)(.+)", flat)
        if m and (m.group(2) in _SIDED_SMPL or m.group(2) in _SIDED_TEMPLATE):
            side, flat = m.group(1)[0].upper(), m.group(2)
    return side, flat


def map_joint_names(names: list[str]) -> dict[int, int]:
    """File joint index → SMPL joint index for the names that denote one of the 22 body joints."""
    parts = [_split_name(n) for n in names]
    template = any(f in ("upleg", "arm", "forearm", "upperarm", "hips") for _, f in parts) or \
        any(s == "" and f == "spine" for s, f in parts)
    sided, centre = (_SIDED_TEMPLATE, _CENTRE_TEMPLATE) if template else (_SIDED_SMPL, _CENTRE_SMPL)
    out: dict[int, int] = {}
    for k, (side, flat) in enumerate(parts):
        if side and flat in sided:
            j = sided[flat] + (1 if side == "R" else 0)
        elif not side and flat in centre:
            j = centre[flat]
        else:
            continue
        if j in out.values():
            raise InterMaskError(f"The BVH file names joint '{sk.JOINT_NAMES[j]}' twice ('{names[k][:40]}'); "
                                 "each body joint must appear once per person.")
        out[k] = j
    return out


# ------------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------

def _forward(joints: list[_Joint], data: np.ndarray, columns: list[int], rest: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
    """Global positions (T, N, 3) and rotations (T, N, 3, 3) of the file's joints (BVH semantics);
    ``rest``: ignore the channels (the rest pose given by the offsets)."""
    t = data.shape[0]
    pos = np.zeros((t, len(joints), 3))
    rot = np.zeros((t, len(joints), 3, 3))
    with np.errstate(all="ignore"):
        for k, j in enumerate(joints):
            local_r = np.broadcast_to(np.eye(3), (t, 3, 3))
            local_t = np.broadcast_to(j.offset, (t, 3)).copy()
            for c, (kind, axis) in enumerate([] if rest else j.channels):
                v = data[:, columns[k] + c]
                if kind == "position":
                    local_t[:, "XYZ".index(axis)] = v  # position channels replace the offset (as importers do)
                else:
                    aa = np.zeros((t, 3))
                    aa[:, "XYZ".index(axis)] = np.radians(v)
                    local_r = local_r @ sk.axis_angle_to_matrix(aa)
            if j.parent < 0:
                pos[:, k], rot[:, k] = local_t, local_r
            else:
                p = j.parent
                pos[:, k] = pos[:, p] + (rot[:, p] @ local_t[..., None])[..., 0]
                rot[:, k] = rot[:, p] @ local_r
    return pos, rot


def _units_and_axes(rest: np.ndarray) -> tuple[float, np.ndarray]:
    """From the rest pose (22, 3): the scale to metres and the matrix that makes the file Y-up."""
    up = rest[15] - rest[[7, 8]].mean(0)
    length = float(np.linalg.norm(up))
    axis = int(np.argmax(np.abs(up)))
    if length <= 0 or up[axis] < 0.8 * length or axis == 0:
        raise InterMaskError("Could not tell which axis is up in this BVH file: in its rest pose the head must be "
                             "straight above the ankles along +Y (or +Z). Export it standing, Y-up or Z-up.")
    for scale in (1.0, 0.01, 0.001):  # metres, centimetres, millimetres
        if 0.5 <= length * scale <= 3.0:
            break
    else:
        raise InterMaskError(f"The BVH skeleton's ankle-to-head height is {length:g} file units, which is not a "
                             "human size in metres, centimetres or millimetres.")
    from intermask.motion.features import Z_TO_Y

    return scale, (np.eye(3) if axis == 1 else Z_TO_Y)


def _person(joints: list[_Joint], members: list[int], data: np.ndarray, columns: list[int],
            fps: float) -> BVHMotion:
    mapping = map_joint_names([joints[k].name for k in members])
    found = {mapping[i]: members[i] for i in mapping}
    missing = [sk.JOINT_NAMES[j] for j in range(sk.NUM_JOINTS) if j not in found]
    if missing:
        raise InterMaskError(
            f"The BVH skeleton rooted at '{joints[members[0]].name[:40]}' lacks the body joints {', '.join(missing)}. "
            "Expected the 22 SMPL joints named like left_hip / L_Hip / LeftHip or Hips, LeftUpLeg, LeftLeg, "
            "LeftFoot, LeftToe, Spine, Spine1, Spine2, Neck, Head, LeftShoulder, LeftArm, LeftForeArm, LeftHand.")
    smpl_of = {v: k for k, v in found.items()}
    for j in range(1, sk.NUM_JOINTS):  # the nearest body-joint ancestor must be the SMPL parent
        a = joints[found[j]].parent
        while a >= 0 and a not in smpl_of:
            a = joints[a].parent
        if a < 0 or smpl_of[a] != sk.PARENTS[j]:
            raise InterMaskError(f"In the BVH file, joint '{joints[found[j]].name[:40]}' ({sk.JOINT_NAMES[j]}) is not "
                                 f"attached below {sk.JOINT_NAMES[sk.PARENTS[j]]} as the SMPL skeleton requires.")
    idx = [found[j] for j in range(sk.NUM_JOINTS)]
    rest_pos, _ = _forward(joints, data[:1], columns, rest=True)
    rest_pos = rest_pos[0, idx] - rest_pos[0, idx[0]]
    scale, m = _units_and_axes(rest_pos)
    pos, rot = _forward(joints, data, columns)
    pos = pos[:, idx] @ m.T * scale
    rot = m @ rot[:, idx] @ m.T
    if not (np.isfinite(pos).all() and np.isfinite(rot).all()):
        raise _bad("its offsets or channel values are too large")
    hint = np.swapaxes(rot[:, list(sk.PARENTS[1:])], -1, -2) @ rot[:, 1:]
    return BVHMotion(pos.astype(np.float32), solve_rotations(pos, sk.matrix_to_rot6d(hint)), float(fps))


def parse_bvh(text: str) -> list[BVHMotion]:
    """Parse BVH text into one :class:`BVHMotion` per ROOT (person)."""
    m = re.search(r"^\s*MOTION\s*$", text, flags=re.MULTILINE)
    if m is None:
        raise _bad("there is no MOTION line")
    tokens = text[:m.start()].replace("{", " { ").replace("}", " } ").split()
    joints = _parse_hierarchy(tokens)
    columns, total = [], 0
    for j in joints:
        columns.append(total)
        total += len(j.channels)
    if total == 0:
        raise _bad("no joint has channels")
    data, fps = _parse_motion(text[m.end():].split(), total)
    roots = [k for k, j in enumerate(joints) if j.parent < 0]
    persons = []
    for r in roots:
        members = [k for k, j in enumerate(joints) if k == r or _root_of(joints, k) == r]
        persons.append(_person(joints, members, data, columns, fps))
    return persons


def _root_of(joints: list[_Joint], k: int) -> int:
    while joints[k].parent >= 0:
        k = joints[k].parent
    return k


def read_bvh(path: str | os.PathLike, max_bytes: int = MAX_BVH_BYTES) -> list[BVHMotion]:
    """Read a BVH file → one (joints (T, 22, 3) Y-up metres, rot6d (T, 21, 6), fps) per person."""
    path = Path(path)
    if not path.is_file():
        raise InterMaskError(f"The BVH file {path} does not exist.")
    size = path.stat().st_size
    if size > max_bytes:
        raise InterMaskError(f"The BVH file {path.name} is {size / 2**20:.1f} MB; at most {max_bytes / 2**20:.0f} MB "
                             "is accepted.")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise _bad("it contains binary data")
    return parse_bvh(raw.decode("utf-8", errors="replace"))
