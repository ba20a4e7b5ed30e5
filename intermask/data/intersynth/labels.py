"""Machine-readable labels of InterSynth clips and their left/right mirror."""
from __future__ import annotations

import copy

_SWAP = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise"}
# Fields whose value names a side or a turning direction; everything else is mirror-invariant.
MIRRORED_FIELDS = ("side", "target_side", "receiver_side", "direction")


def mirror_label(label: dict) -> dict:
    """The label of the left/right-mirrored clip: sides and directions swapped, nothing else changed."""
    out = copy.deepcopy(label)
    for key in MIRRORED_FIELDS:
        if out.get(key) in _SWAP:
            out[key] = _SWAP[out[key]]
    for seg in out.get("segments", []) or []:
        for key in MIRRORED_FIELDS:
            if seg.get(key) in _SWAP:
                seg[key] = _SWAP[seg[key]]
    return out
