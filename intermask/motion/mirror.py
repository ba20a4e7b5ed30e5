"""Left/right mirroring of raw motion and of its description (the data set's augmentation).

The text is swapped on whole words; the official substring swap also turned "bright" into "bleft".
"""
from __future__ import annotations

import re

import numpy as np

from intermask import skeleton as sk

# Rotation components that change sign under x → −x: R' = S R S with S = diag(−1, 1, 1) flips
# R01, R10 and R20, i.e. entries 1, 2 and 4 of the InterHuman 6D layout.
_ROT6D_FLIP = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0], dtype=np.float32)
# The same left/right permutation on joints 1..21 (the root has no rotation entry).
_ROT_PERMUTATION = [sk.MIRROR_PERMUTATION[j] - 1 for j in range(1, sk.NUM_JOINTS)]


def mirror_positions(pos: np.ndarray) -> np.ndarray:
    """(T, 22, 3) positions (raw or Y-up: x is the left/right axis in both) → mirrored copy."""
    out = np.array(pos)[:, list(sk.MIRROR_PERMUTATION)]
    out[..., 0] *= -1
    return out


def mirror_rot6d(rot6d: np.ndarray) -> np.ndarray:
    """(T, 21, 6) local rotations of joints 1..21 → mirrored copy."""
    return (np.asarray(rot6d)[:, _ROT_PERMUTATION] * _ROT6D_FLIP).astype(np.asarray(rot6d).dtype)


def mirror_raw(raw: np.ndarray) -> np.ndarray:
    """Mirror one person's raw InterHuman (T, 492) motion; hand columns are left as they are."""
    out = np.array(raw, dtype=np.float32)
    t = out.shape[0]
    out[:, :66] = mirror_positions(out[:, :66].reshape(t, 22, 3)).reshape(t, -1)
    out[:, 186:312] = mirror_rot6d(out[:, 186:312].reshape(t, 21, 6)).reshape(t, -1)
    return out


_WORD_SWAPS = {
    "left": "right", "right": "left",
    "leftward": "rightward", "rightward": "leftward",
    "leftwards": "rightwards", "rightwards": "leftwards",
    "clockwise": "counterclockwise", "counterclockwise": "clockwise",
    "counter-clockwise": "clockwise", "anticlockwise": "clockwise", "anti-clockwise": "clockwise",
}
_WORD_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, _WORD_SWAPS), key=len, reverse=True))
                      + r")(?!\w)", re.IGNORECASE)


def mirror_text(text: str) -> str:
    """Swap left/right and clockwise/counterclockwise on whole words, keeping capitalisation.

    "upright", "bright" and "counterclockwise" are left intact, unlike the official substring swap; a side
    before a hyphen is a word ("right-handed" → "left-handed"), a word after one is not ("counter-clockwise").
    """
    def swap(m: re.Match) -> str:
        word = m.group(0)
        new = _WORD_SWAPS[word.lower()]
        if word.isupper():
            return new.upper()
        if word[0].isupper():
            return new[0].upper() + new[1:]
        return new

    return _WORD_RE.sub(swap, text)
