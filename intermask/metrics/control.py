"""Control accuracy: does a generated interaction do what its InterSynth label asks?

Each check takes a label dict and an Interaction (or joints (2, T, 22, 3), de-normalised, both persons in one
world frame) and returns True, False or None (not applicable). Everything is measured in each person's own
body frame (pelvis origin, facing from the hips) or between the two persons, so it does not depend on where
the pair stands or which way it faces — the canonicalised pairs and mirrored copies a model sees are fine.

Attributes: ``actor`` (which person acts), ``side`` (which hand or leg), ``limb`` (hand/arm vs leg/foot),
``contact`` (contact categories really touch), ``count`` (repetitions), ``direction`` (turning sense).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from intermask import skeleton as sk
from intermask.errors import InterMaskError

ATTRIBUTES = ("actor", "side", "limb", "contact", "count", "direction")
J = {name: i for i, name in enumerate(sk.JOINT_NAMES)}
PELVIS, SPINE1, SPINE2, SPINE3, NECK, HEAD = (J[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head"))
HAND = {"left": J["left_wrist"], "right": J["right_wrist"]}
ANKLE = {"left": J["left_ankle"], "right": J["right_ankle"]}
SHOULDER = {"left": J["left_shoulder"], "right": J["right_shoulder"]}
WRISTS, ANKLES, SHOULDERS = list(sk.WRISTS), [ANKLE["left"], ANKLE["right"]], [SHOULDER["left"], SHOULDER["right"]]
TOES = [J["left_foot"], J["right_foot"]]
_HANDLESS = ("approach", "walk_away", "pass_by", "follow", "circle", "bow", "jump", "kick")


def _joints(x) -> np.ndarray:
    j = np.asarray(getattr(x, "joints", x), dtype=np.float64)
    if j.ndim != 4 or j.shape[0] != 2 or j.shape[2:] != (sk.NUM_JOINTS, 3):
        raise InterMaskError(f"Control checks need joints of shape (2, T, {sk.NUM_JOINTS}, 3); got {j.shape}.")
    return j


def _frame(j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame forward and left unit vectors (T, 3) of one person, from the hips (as in canonicalisation)."""
    across = j[:, J["right_hip"]] - j[:, J["left_hip"]]
    across[:, 1] = 0
    fwd = np.cross(np.array([0.0, 1.0, 0.0]), across)
    fwd /= np.maximum(np.linalg.norm(fwd, axis=1, keepdims=True), 1e-9)
    left = np.cross(np.array([0.0, 1.0, 0.0]), fwd)
    return fwd, left


def _count_peaks(x: np.ndarray, high: float, low: float) -> int:
    """Number of rises above ``high`` after being below ``low`` (hysteresis)."""
    n, armed = 0, True
    for v in x:
        if armed and v > high:
            n, armed = n + 1, False
        elif not armed and v < low:
            armed = True
    return n


def hand_scores(j: np.ndarray) -> np.ndarray:
    """(2,) how far each hand of one person (T, 22, 3) goes forward plus up from the pelvis, at most."""
    fwd, _ = _frame(j)
    out = []
    for w in WRISTS:
        rel = j[:, w] - j[:, PELVIS]
        out.append(np.max(np.sum(rel * fwd, 1) + rel[:, 1]))
    return np.array(out)


def leg_scores(j: np.ndarray) -> np.ndarray:
    """(2,) highest lift of each ankle above its lowest height."""
    return np.array([np.ptp(j[:, a, 1]) for a in ANKLES])


def airborne(j: np.ndarray) -> np.ndarray:
    """(T,) both feet off the floor (all four foot joints above 4 cm over the floor of the clip)."""
    floor = j[:, ANKLES + TOES, 1].min()
    return (j[:, TOES, 1] - floor > 0.04).all(1) & (j[:, ANKLES, 1] - floor > 0.10).all(1)


def _activity(cat: str, j: np.ndarray, p: int) -> float:
    """How strongly person p does the labelled action (comparable between the two persons)."""
    me, other = j[p], j[1 - p]
    if cat in ("approach", "walk_away", "circle"):
        return float(np.linalg.norm(np.diff(me[:, PELVIS, [0, 2]], axis=0), axis=1).sum())
    if cat == "bow":
        fwd, _ = _frame(me)
        return float(np.max(np.sum((me[:, HEAD] - me[:, PELVIS]) * fwd, 1)))
    if cat == "jump":
        return float(airborne(me).sum())
    if cat == "kick":
        return float(leg_scores(me).max())
    if cat == "clap":
        d = np.linalg.norm(me[:, HAND["left"]] - me[:, HAND["right"]], axis=1)
        return float(np.clip(0.3 - d.min(), 0, None) * np.ptp(d))
    if cat == "wave":
        return float(np.max(me[:, WRISTS, 1] - me[:, [HEAD], 1]))
    if cat in ("push", "punch", "pat_shoulder", "point"):
        # The actor's hand ends up near the partner's upper body (push, pat) or head (punch), or points at it.
        targets = other[:, [SPINE3, NECK, HEAD, *SHOULDERS]]
        d = np.linalg.norm(me[:, WRISTS, None] - targets[:, None], axis=-1).min()
        return float(-d) if cat != "point" else float(hand_scores(me).max())
    if cat == "give":
        # The giver reaches first: earliest frame with a hand at half of its largest forward reach.
        sc = np.stack([np.sum((me[:, w] - me[:, PELVIS]) * _frame(me)[0], 1) for w in WRISTS], 1).max(1)
        return float(-np.argmax(sc > 0.5 * (sc.max() + sc.min())))
    if cat == "pull":
        start = other[0, PELVIS, [0, 2]] - me[0, PELVIS, [0, 2]]
        start /= max(np.linalg.norm(start), 1e-9)
        return float(-np.dot(me[-1, PELVIS, [0, 2]] - me[0, PELVIS, [0, 2]], start))
    return float(hand_scores(me).max())


def _follows(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance between a's root at t and b's root at t − lag, at the best lag: small if a follows b."""
    ra, rb = a[:, PELVIS, [0, 2]], b[:, PELVIS, [0, 2]]
    best = np.inf
    for lag in range(3, min(90, len(ra) // 2)):
        best = min(best, float(np.linalg.norm(ra[lag:] - rb[:-lag], axis=1).mean()))
    return best


def check_actor(label: dict, x) -> bool | None:
    j = _joints(x)
    actor, cat = label.get("actor"), label.get("category")
    if actor is None or cat is None:
        return None
    if cat == "follow":
        if actor == "both":
            return None
        return _follows(j[actor], j[1 - actor]) < _follows(j[1 - actor], j[actor])
    if cat in ("handshake", "high_five", "fist_bump", "hug", "dance", "pass_by"):
        if actor != "both":
            return None
        a = [hand_scores(j[p]).max() if cat != "pass_by" else _activity("approach", j, p) for p in (0, 1)]
        return min(a) > 0.5 * max(a)
    a = np.array([_activity(cat, j, p) for p in (0, 1)])
    if actor == "both":
        if cat in ("push", "punch", "pat_shoulder", "give", "pull"):
            return None
        lo, hi = sorted(a)
        return bool(lo > 0.5 * hi) if hi > 0 else False
    return bool(a[int(actor)] > a[1 - int(actor)])


def _actors(label: dict) -> tuple[int, ...]:
    a = label.get("actor")
    return (0, 1) if a == "both" else ((int(a),) if a in (0, 1) else ())


def check_side(label: dict, x) -> bool | None:
    j = _joints(x)
    side, cat = label.get("side"), label.get("category")
    if side not in ("left", "right"):
        return None
    if cat == "pass_by":
        # Passing on the left: at the closest approach the other person is on one's left.
        d = np.linalg.norm(j[0, :, PELVIS] - j[1, :, PELVIS], axis=1)
        t = int(np.argmin(d))
        _, left = _frame(j[0])
        lat = np.dot(j[1, t, PELVIS] - j[0, t, PELVIS], left[t])
        return (lat > 0) == (side == "left")
    limb = label.get("limb")
    ok = []
    for p in _actors(label):
        scores = leg_scores(j[p]) if limb in ("leg", "foot") else hand_scores(j[p])
        ok.append(("left" if scores[0] > scores[1] else "right") == side)
    return all(ok) if ok else None


def check_limb(label: dict, x) -> bool | None:
    j = _joints(x)
    limb = label.get("limb")
    if limb not in ("hand", "arm", "leg", "foot"):
        return None
    ok = []
    for p in _actors(label):
        me = j[p]
        floor = me[:, ANKLES + TOES, 1].min()
        leg = bool(airborne(me).any()) or float(np.max(me[:, ANKLES, 1] - floor)) > 0.3
        hand = float(hand_scores(me).max()) > 0.15
        said_leg = limb in ("leg", "foot")
        ok.append(leg and not (hand and not leg) if said_leg else (hand and not leg))
    return all(ok) if ok else None


CONTACT_THRESHOLD = 0.2


def contact_distance(label: dict, x) -> float | None:
    """The smallest distance between the joints that touch in this contact category (m)."""
    j = _joints(x)
    cat = label.get("category")
    wrists = j[:, :, WRISTS]
    if cat in ("handshake", "high_five", "fist_bump", "give", "pull", "dance"):
        return float(np.linalg.norm(wrists[0][:, :, None] - wrists[1][:, None], axis=-1).min())
    targets = {"hug": [SPINE1, SPINE2, SPINE3], "push": [SPINE2, SPINE3, NECK, *SHOULDERS],
               "pat_shoulder": SHOULDERS}.get(cat)
    if targets is None:
        return None
    best = np.inf
    for p in _actors(label) or (0, 1):
        d = np.linalg.norm(wrists[p][:, :, None] - j[1 - p][:, None, targets], axis=-1).min()
        best = min(best, float(d))
    return best


def contact_limit(label: dict) -> float:
    """The contact distance (m) under which a clip of this label's category touches."""
    # Wrist joints stop short of the surface they touch: a palm on a chest or shoulder is 10–20 cm away.
    return {"hug": 0.3, "push": 0.32, "pat_shoulder": 0.25}.get(label.get("category"), CONTACT_THRESHOLD)


def check_contact(label: dict, x) -> bool | None:
    if not label.get("contact"):
        return None
    d = contact_distance(label, x)
    return None if d is None else d < contact_limit(label)


def measured_count(label: dict, x) -> int | None:
    j = _joints(x)
    cat = label.get("category")
    actors = _actors(label)
    if not actors:
        return None
    p = actors[0]
    me = j[p]
    side = label.get("side")
    if cat == "wave" and side in HAND:
        w = HAND[side]
        _, left = _frame(me)
        raised = me[:, w, 1] > me[:, NECK, 1]
        if raised.sum() < 3:
            return 0
        lat = np.sum((me[:, w] - me[:, PELVIS]) * left, 1) * (1 if side == "left" else -1)
        lat = lat - np.median(lat[raised])
        lat = np.where(raised, lat, -1.0)
        return _count_peaks(lat, 0.06, 0.0)
    if cat == "clap":
        d = np.linalg.norm(me[:, HAND["left"]] - me[:, HAND["right"]], axis=1)
        return _count_peaks(-d, -0.1, -0.16)
    if cat == "jump":
        return _count_peaks(airborne(me).astype(float), 0.5, 0.5)
    if cat == "pat_shoulder" and side in HAND:
        w = me[:, HAND[side]]
        near = np.linalg.norm(w[:, None] - j[1 - p][:, SHOULDERS], axis=-1).min(1) < 0.25
        if not near.any():
            return 0
        # Pats are bumps up from the resting height of the hand on the shoulder.
        base = np.percentile(w[near, 1], 30)
        h = np.where(near, w[:, 1] - base, -1.0)
        return _count_peaks(h, 0.03, 0.01)
    if cat == "punch" and side in HAND:
        # Reach toward the partner's head (a hanging arm is long too, but does not point at the partner).
        to = j[1 - p][:, HEAD] - me[:, SHOULDER[side]]
        to /= np.maximum(np.linalg.norm(to, axis=1, keepdims=True), 1e-9)
        ext = np.sum((me[:, HAND[side]] - me[:, SHOULDER[side]]) * to, 1)
        return _count_peaks(ext, 0.85 * ext.max(), 0.6 * ext.max())
    if cat == "bow":
        fwd, _ = _frame(me)
        lean = np.sum((me[:, HEAD] - me[:, PELVIS]) * fwd, 1)
        lean = lean - np.median(lean[: max(3, len(lean) // 10)])
        return _count_peaks(lean, 0.5 * lean.max(), 0.25 * lean.max())
    return None


def check_count(label: dict, x) -> bool | None:
    if label.get("count") is None:
        return None
    m = measured_count(label, x)
    return None if m is None else m == int(label["count"])


def check_direction(label: dict, x) -> bool | None:
    """Turning sense of the pair (counterclockwise seen from above = positive rotation about +Y)."""
    direction = label.get("direction")
    if direction not in ("clockwise", "counterclockwise"):
        return None
    j = _joints(x)
    d = j[1, :, PELVIS, [0, 2]].T - j[0, :, PELVIS, [0, 2]].T  # (T, 2) x, z
    ang = np.unwrap(np.arctan2(d[:, 0], d[:, 1]))
    return (ang[-1] - ang[0] > 0) == (direction == "counterclockwise")


CHECKS = {"actor": check_actor, "side": check_side, "limb": check_limb, "contact": check_contact,
          "count": check_count, "direction": check_direction}


def check_all(label: dict, x) -> dict[str, bool | None]:
    return {k: f(label, x) for k, f in CHECKS.items()}


def control_accuracy(pairs) -> dict[str, dict]:
    """Accuracy per attribute over (label, interaction) pairs: {attr: {"accuracy", "correct", "total"}}."""
    counts = defaultdict(lambda: [0, 0])
    for label, x in pairs:
        for k, v in check_all(label, x).items():
            if v is None:
                continue
            counts[k][0] += int(bool(v))
            counts[k][1] += 1
    return {k: {"accuracy": c / t if t else float("nan"), "correct": c, "total": t}
            for k, (c, t) in ((k, counts[k]) for k in ATTRIBUTES) if t}
