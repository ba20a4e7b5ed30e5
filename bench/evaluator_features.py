"""Which part of the 262-d feature the evaluator's retrieval metrics read: VQ reconstructions of the test split
scored with one part put back from the ground truth at a time.

    python bench/evaluator_features.py --data-root data/intersynth --out results/evaluator_features.json

R-precision, MM Dist and FID compare evaluator embeddings of motion features. A reconstruction that misses them
(``bench/vq_ceiling.py``) may miss in where the persons stand, in joint positions, in velocities or in the local
joint rotations; each row here replaces one of those in every reconstruction with the ground truth's (positions
moved with the root, so the pose stays the reconstruction's), and the rows by joint replace only those joints'
rotations. The part whose row returns to the ground truth's figures is the part that holds them down. Two rows hold
the trunk's rotations (spine, neck, collars, head) at each clip's mean, in the ground truth and in the
reconstruction: what the evaluator makes of the trunk's frame-to-frame texture alone. Each
rotation group's mean geodesic error (degrees) and the ground truth's spread of those rotations (the mean angle
from their average) say how large a difference it is in the motion itself; the correlation of the clip means
says whether the reconstruction keeps each clip's posture of those joints at all.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_file import publish  # noqa: E402  (bench/result_file.py)
from vq_ceiling import clips_scored, parse_arguments, reconstructed_clips  # noqa: E402  (bench/vq_ceiling.py)
from intermask import skeleton as sk  # noqa: E402
from intermask.models.vq_losses import TRUNK_JOINTS  # noqa: E402
from intermask.motion.features import CONTACT, POS, ROT, VEL, rotation_columns, rotation_slots  # noqa: E402

# Rotation groups by joint name; the feature holds the rotations of joints 1..21 (the pelvis has none).
ROTATION_GROUPS = {"hips": ("left_hip", "right_hip"), "knees": ("left_knee", "right_knee"),
                   "ankles and feet": ("left_ankle", "right_ankle", "left_foot", "right_foot"),
                   "spine": ("spine1", "spine2", "spine3"),
                   "neck, collars and head": ("neck", "left_collar", "right_collar", "head"),
                   "shoulders": ("left_shoulder", "right_shoulder"), "elbows": ("left_elbow", "right_elbow"),
                   "wrists": ("left_wrist", "right_wrist")}


def on_root(pose: np.ndarray, root: np.ndarray) -> np.ndarray:
    """``pose`` (2, F, 262) moved, positions and velocities, onto the pelvis path of ``root``."""
    shape = (*pose.shape[:2], 22, 3)
    shift = root[..., POS].reshape(shape)[:, :, :1] - pose[..., POS].reshape(shape)[:, :, :1]
    step = np.concatenate([shift[:, 1:] - shift[:, :-1], np.zeros_like(shift[:, :1])], axis=1)
    out = pose.copy()
    out[..., POS] = (pose[..., POS].reshape(shape) + shift).reshape(*pose.shape[:2], 66)
    out[..., VEL] = (pose[..., VEL].reshape(shape) + step).reshape(*pose.shape[:2], 66)
    return out


def with_columns(x: np.ndarray, source: np.ndarray, columns) -> np.ndarray:
    out = x.copy()
    out[..., columns] = source[..., columns]
    return out


def held_at_clip_mean(x: np.ndarray, columns) -> np.ndarray:
    """``x`` (2, F, 262) with ``columns`` held at each person's mean over the clip: the motion without their
    frame-to-frame texture."""
    out = x.copy()
    out[..., columns] = x[..., columns].mean(axis=1, keepdims=True)
    return out


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (degrees) between 6D rotations a and b (..., 6)."""
    ra, rb = sk.rot6d_to_matrix(a), sk.rot6d_to_matrix(b)
    cos = (np.einsum("...ij,...ij->...", ra, rb) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def posture_correlation(rec: list, gt: list, columns) -> float | None:
    """Mean over the ``columns`` (that vary from clip to clip) of the correlation, across persons of clips, between
    the reconstruction's clip-mean value and the ground truth's: whether the reconstruction keeps each clip's
    posture (1) or puts every clip in the same one (0)."""
    r = np.concatenate([x[..., columns].mean(axis=1) for x in rec])
    g = np.concatenate([x[..., columns].mean(axis=1) for x in gt])
    varying = g.std(0) > 1e-6
    if not varying.any():
        return None
    # A column the reconstruction holds still for every clip keeps no posture: 0 (corrcoef would give NaN).
    return float(np.mean([np.corrcoef(r[:, i], g[:, i])[0, 1] if r[:, i].std() > 1e-9 else 0.0
                          for i in np.flatnonzero(varying)]))


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0])

    from tqdm import tqdm

    from intermask import evaluation as E

    evaluator, cfg, items, texts, gt, rec = reconstructed_clips(args)
    e_text, e_gt = E.embed_texts(evaluator, texts), E.embed_motions(evaluator, gt)

    variants = {"reconstruction": rec,
                "ground-truth roots": [on_root(r, g) for r, g in zip(rec, gt)],
                "ground-truth positions": [with_columns(r, g, POS) for r, g in zip(rec, gt)],
                "ground-truth velocities": [with_columns(r, g, VEL) for r, g in zip(rec, gt)],
                "ground-truth rotations": [with_columns(r, g, ROT) for r, g in zip(rec, gt)],
                "ground-truth foot contacts": [with_columns(r, g, CONTACT) for r, g in zip(rec, gt)]}
    variants.update({f"ground-truth {name} rotations": [with_columns(r, g, rotation_columns(joints))
                                                       for r, g in zip(rec, gt)]
                     for name, joints in ROTATION_GROUPS.items()})
    trunk = rotation_columns(TRUNK_JOINTS)
    variants["ground truth, trunk rotations held at each clip's mean"] = [held_at_clip_mean(g, trunk) for g in gt]
    variants["reconstruction, trunk rotations held at each clip's mean"] = [held_at_clip_mean(r, trunk) for r in rec]
    rows = {"ground truth": E.distribution_row(e_text, e_gt, cfg, 0, None)}
    for name, motions in tqdm(variants.items(), desc="scoring", unit="variant"):
        rows[name] = E.distribution_row(e_text, E.embed_motions(evaluator, motions), cfg, 0, e_gt)

    gt_rot = np.concatenate([g[..., ROT].reshape(-1, 21, 6) for g in gt])
    rec_rot = np.concatenate([r[..., ROT].reshape(-1, 21, 6) for r in rec])
    error, spread = angles_deg(rec_rot, gt_rot), angles_deg(gt_rot, np.broadcast_to(gt_rot.mean(0), gt_rot.shape))
    rotations = {name: {"error_deg": float(error[:, rotation_slots(joints)].mean()),
                        "ground_truth_spread_deg": float(spread[:, rotation_slots(joints)].mean()),
                        "clip_mean_correlation": posture_correlation(rec, gt, rotation_columns(joints))}
                 for name, joints in ROTATION_GROUPS.items()}
    for name, row in rows.items():
        print(f"{name:42s} R@3 {row['R_precision_top3']:.3f}  MM Dist {row['MM_Dist']:.3f}"
              + (f"  FID {row['FID']:.1f}" if "FID" in row else ""))
    for name, r in rotations.items():
        corr = r["clip_mean_correlation"]
        print(f"{name:24s} rotation error {r['error_deg']:.2f} deg, "
              f"ground-truth spread {r['ground_truth_spread_deg']:.2f} deg, "
              f"clip means' correlation {'-' if corr is None else f'{corr:.2f}'}")
    publish({**clips_scored(args, items), "rows": rows, "rotations": rotations}, args.out)


if __name__ == "__main__":
    main()
