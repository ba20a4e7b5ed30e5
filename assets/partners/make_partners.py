"""Rebuild the example partner motions of the demo's Reaction tab from InterSynth (deterministic).

    python assets/partners/make_partners.py

Each file holds person A of one procedural InterSynth clip (2–4 s), in a different accepted upload format:
- ``wave_right_hand.npz``: the ``.npz`` exchange file of the whole clip (the loader takes person A);
- ``punch_right.bvh``: a BVH with the SMPL 22-joint naming (person A only);
- ``handshake_reach.npy``: a (T, 22, 3) array of joint positions, Y-up metres.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from intermask.data.intersynth import generate_clip  # noqa: E402
from intermask.motion.bvh import write_bvh  # noqa: E402
from intermask.motion.interaction import Interaction  # noqa: E402

MAX_FRAMES = 120  # 4 s at 30 fps


def _clip(seed: int, category: str):
    clip = generate_clip(seed, category, composite=False)
    return clip.joints[:, :MAX_FRAMES], clip.rot6d[:, :MAX_FRAMES], clip.texts[0]


def main() -> None:
    joints, rot6d, text = _clip(1, "wave")  # person A waves twice with the right hand
    Interaction(joints=joints, rot6d=rot6d, fps=30, text=text).save(HERE / "wave_right_hand.npz")
    joints, rot6d, _ = _clip(4, "punch")  # person A punches once with the right hand
    write_bvh(HERE / "punch_right.bvh", joints[0], rot6d[0], fps=30)
    joints, _, _ = _clip(3, "handshake")  # both reach out their right hands; A's half only
    np.save(HERE / "handshake_reach.npy", joints[0].astype(np.float32), allow_pickle=False)
    for p in sorted(HERE.glob("*")):
        if p.suffix in (".npz", ".npy", ".bvh"):
            print(f"{p.name}: {p.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
