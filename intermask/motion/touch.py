"""Where a person's hands touch the other person: per-frame weights for the VQ-VAE's touch term.

The VQ-VAE encodes one person at a time, so its losses cannot see the partner; but whether a handshake, a high five
or a fist bump survives reconstruction depends on a few centimetres of the wrists in exactly the frames where they
are near the partner. ``touch_weights`` marks those frames from the two-person ground truth, once, when the VQ's
windows are built (``data/interhuman.InterHumanWindows(touch=True)``).
"""
from __future__ import annotations

import numpy as np

from intermask import skeleton as sk

# What a hand touches on the partner in the categories the control checks know: hands (handshake, high five,
# fist bump, give, pull, dance), the chest and spine (hug, push), the neck and shoulders (push, pat on the shoulder).
TARGETS = (*sk.WRISTS, *(sk.JOINT_NAMES.index(n) for n in ("spine1", "spine2", "spine3", "neck",
                                                           "left_shoulder", "right_shoulder")))
# A wrist this far (m) from every target weighs 1/e as much as one on a target.
TOUCH_SCALE = 0.1


def touch_weights(own: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """own, partner (T, 22, 3) joints in one frame (m) → (T, 2) float32 weights of own left and right wrist:
    exp(−distance to the nearest of the partner's ``TARGETS`` / ``TOUCH_SCALE``)."""
    own, partner = np.asarray(own, dtype=np.float64), np.asarray(partner, dtype=np.float64)
    if own.shape != partner.shape or own.ndim != 3 or own.shape[1:] != (sk.NUM_JOINTS, 3):
        raise ValueError(f"own and partner must both be (T, {sk.NUM_JOINTS}, 3); got {own.shape} and {partner.shape}")
    gaps = own[:, sk.WRISTS, None, :] - partner[:, None, TARGETS, :]  # (T, 2, targets, 3)
    nearest = np.linalg.norm(gaps, axis=-1).min(-1)
    return np.exp(-nearest / TOUCH_SCALE).astype(np.float32)
