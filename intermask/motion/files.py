"""Reading numpy files from untrusted sources: size, type and header checks before any array is allocated.

Motion uploads (partners for reactions) and interaction exchange files both come through here. Nothing is ever
unpickled; an archive may not inflate past ``MAX_UNPACKED_BYTES``; an array header may not announce more data than
the file holds (numpy would allocate it before reading).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from intermask.errors import InterMaskError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 400 * 1024 * 1024  # an .npz may not inflate beyond this (zip bombs)
EXTENSIONS = (".npz", ".npy", ".bvh")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
ACCEPTED = ("Accepted: .npz (the InterMask exchange file, or a 'joints' array of shape (T, 22, 3)), .npy of "
             "shape (T, 22, 3) joints, (T, 262) InterHuman features or (T, 492) raw InterHuman, and .bvh with "
             "the SMPL 22-joint naming.")


def check_file(path: Path) -> None:
    if not path.is_file():
        raise InterMaskError(f"The motion file {path} does not exist.")
    if path.suffix.lower() not in EXTENSIONS:
        raise InterMaskError(f"Unknown motion file type '{path.suffix or path.name}'. {ACCEPTED}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InterMaskError(f"The motion file {path.name} is {size / 2**20:.1f} MB; at most "
                             f"{MAX_FILE_BYTES // 2**20} MB is accepted.")
    if size == 0:
        raise InterMaskError(f"The motion file {path.name} is empty.")


def _magic(path: Path, expected: bytes, kind: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(len(expected))
    if head != expected:
        raise InterMaskError(f"{path.name} is not a numpy {kind} file (it may be a text file renamed). {ACCEPTED}")


def _size(n: int) -> str:
    for unit, scale in (("GB", 2 ** 30), ("MB", 2 ** 20), ("kB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _check_npy_header(fh, available: int, what: str) -> None:
    """Read a .npy header from ``fh`` and refuse it unless ``available`` bytes (header included) hold its data.

    numpy allocates the whole array the header announces before reading any of it, so a 1 kB file claiming
    10^12 frames would end as a MemoryError; this check turns that into a sentence and costs one header read.
    """
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise InterMaskError(f"{what} uses .npy format version {version[0]}.{version[1]}; versions 1.0 and "
                                 f"2.0 (what numpy.save writes) are accepted.")
    except (ValueError, EOFError, OSError) as exc:
        raise InterMaskError(f"{what} has no valid numpy array header ({short_error(exc)}). {ACCEPTED}") from None
    if dtype.hasobject:
        raise InterMaskError(f"{what} holds Python objects; object or pickled arrays are never loaded. {ACCEPTED}")
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize  # Python ints: no overflow for absurd shapes
    held = available - fh.tell()
    if needed > held:
        raise InterMaskError(f"{what} claims the shape {tuple(shape)} ({_size(needed)} of {dtype}) but "
                             f"holds only {_size(max(held, 0))} of data, so it is damaged or not a motion file. "
                             f"{ACCEPTED}")


def load_npy(path: Path) -> np.ndarray:
    _magic(path, _NPY_MAGIC, ".npy")
    with open(path, "rb") as fh:
        _check_npy_header(fh, path.stat().st_size, path.name)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InterMaskError(f"{path.name} could not be read as a numpy array ({short_error(exc)}); object or pickled "
                             f"arrays are never loaded. {ACCEPTED}") from None


def open_npz(path: Path) -> dict[str, np.ndarray]:
    _magic(path, _ZIP_MAGIC, ".npz")
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            unpacked = sum(i.file_size for i in members)
            if unpacked > MAX_UNPACKED_BYTES:
                raise InterMaskError(f"{path.name} unpacks to {unpacked / 2**20:.0f} MB; at most "
                                     f"{MAX_UNPACKED_BYTES // 2**20} MB is accepted.")
            for info in members:  # zipfile stops each member at its declared size, so that size bounds its data
                what = f"The array '{info.filename.removesuffix('.npy')}' in {path.name}"
                with zf.open(info) as fh:
                    if fh.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                        raise InterMaskError(f"{what} is not a numpy array; an .npz archive holds only arrays "
                                             f"(numpy.savez). {ACCEPTED}")
                with zf.open(info) as fh:
                    _check_npy_header(fh, info.file_size, what)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise InterMaskError(f"{path.name} could not be read as a numpy .npz archive ({short_error(exc)}); object or "
                             f"pickled arrays are never loaded. {ACCEPTED}") from None


def short_error(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
