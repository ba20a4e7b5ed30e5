"""The one way this project writes a file or directory that someone may read at the same time.

    with atomic_path(out / "model.safetensors") as tmp:
        save_file(state, str(tmp))

The block writes to a hidden temporary sibling (same directory, so the final rename never crosses file
systems); only when it ends without an error is the sibling renamed onto the target. A reader therefore sees
the old content or the new one, never half of either, and a crash leaves at worst a stray ``.*.tmp-*`` entry.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Iterable, Iterator


def temporary_sibling(path: Path, tag: str = "tmp") -> Path:
    """A hidden, unique name next to ``path`` for content that :func:`commit` later moves onto it."""
    # The suffix stays last: numpy, imageio and friends pick the format from it (np.savez even appends one).
    return path.with_name(f".{path.stem}.{tag}-{os.getpid()}-{time.monotonic_ns()}{path.suffix}")


def discard(path: Path) -> None:
    """Remove a temporary file or directory, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def commit(tmp: Path, path: Path, keep: Iterable[str] = ()) -> None:
    """Move finished content at ``tmp`` onto ``path`` in one rename (see :func:`atomic_path` for ``keep``)."""
    if tmp.is_dir() and path.is_dir():
        for name in keep:
            if (path / name).exists() and not (tmp / name).exists():
                shutil.copy2(path / name, tmp / name)
        # A directory cannot be renamed onto a non-empty one: move the old one aside first.
        old = temporary_sibling(path, "old")
        path.rename(old)
        tmp.rename(path)
        discard(old)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, keep: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to (a file, or a directory the block creates).

    ``keep``: for a directory, names of entries of the existing one to carry over into the new one when the
    block did not write them (logs and caches that live beside a checkpoint).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic_path: the block wrote nothing to {tmp}")
        commit(tmp, path, keep)
    finally:
        discard(tmp)
