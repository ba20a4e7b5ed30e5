"""The ceiling a VQ-VAE sets on generation: the evaluation's metrics on VQ reconstructions of the test split.

    python bench/vq_ceiling.py --vq checkpoints/intersynth/vq --data-root data/intersynth --clips 128 \
        --out results/vq_ceiling.json

The transformer can at best produce the codes of the ground truth, so encode-then-decode of each test clip (both
persons, whole clip, in the same canonical frame as the evaluation's items) is what a perfect transformer would
output. If control accuracy, R-precision or physics of these reconstructions miss a target, no amount of
transformer training reaches it: the VQ has to improve first. Scored exactly like ``python -m intermask eval``
scores generated motion (same clips, descriptions, evaluator, R-precision batches, control checks, physics).

The ``contact`` section says where contact is lost: for every clip with a contact label, the smallest distance
between the touching joints in the ground truth, in the reconstruction, and in the reconstruction with each
person's root trajectory taken from the ground truth (if that fixes the contact, the two persons' placement is to
blame; if not, the reconstructed poses do not reach).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import eval_clips  # noqa: E402  (bench/eval_clips.py)
from result_file import publish  # noqa: E402  (bench/result_file.py)
from intermask.api import DEFAULT_EVALUATOR, repo_relative  # noqa: E402
from intermask.motion.features import FPS, fuse_velocities  # noqa: E402


def reconstruct(vq, norm, feats: np.ndarray, step: int, codebook: bool = True) -> np.ndarray:
    """De-normalised pair features (2, F, 262) → their VQ reconstruction (2, F, 262); ``step`` frames per token
    (the clip is padded to whole tokens by repeating its last frame, as reaction generation does), decoded as the
    model decodes (with the checkpoint's velocity fusion). ``codebook=False`` skips quantisation."""
    f = feats.shape[1]
    pad = -f % step
    x = np.concatenate([feats, np.repeat(feats[:, -1:], pad, axis=1)], axis=1) if pad else feats
    with torch.no_grad():
        x = torch.from_numpy(norm.normalize(x).astype(np.float32))
        out = vq.decode(vq.encode(x)) if codebook else vq.autoencode(x)
    return fuse_velocities(norm.denormalize(out.numpy())[:, :f].astype(np.float32), vq.cfg.velocity_fusion)


def contact_diagnosis(labels: list, j_gt: list, j_rec: list) -> dict:
    """Contact of ground truth, reconstruction and reconstruction on the ground truth's roots, clip by clip."""
    from intermask.metrics.control import check_contact, contact_distance

    rows = []
    for lab, g, r in zip(labels, j_gt, j_rec):
        if not lab or check_contact(lab, g) is None:
            continue
        placed = r - r[:, :, :1] + g[:, :, :1]
        rows.append({"category": lab["category"],
                     **{k: {"distance_m": contact_distance(lab, x), "touches": bool(check_contact(lab, x))}
                        for k, x in (("ground_truth", g), ("reconstruction", r), ("reconstruction_gt_roots", placed))}})
    keys = ("ground_truth", "reconstruction", "reconstruction_gt_roots")
    return {"clips": len(rows), "touch_rate": {k: float(np.mean([row[k]["touches"] for row in rows])) if rows else None
                                               for k in keys}, "per_clip": rows}


def parse_arguments(description: str) -> argparse.Namespace:
    """--vq, --evaluator, the clips (``eval_clips``) and --out: what a script scoring reconstructions reads."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--vq", default="checkpoints/intersynth/vq")
    p.add_argument("--evaluator", default=repo_relative(DEFAULT_EVALUATOR))
    eval_clips.add_arguments(p, split="test", clips=128)
    p.add_argument("--no-codebook", action="store_true",
                   help="reconstruct without quantising (encoder straight into decoder): the codebook's share")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args()


def clips_scored(args: argparse.Namespace, items: list) -> dict:
    """What a result file of reconstructions records about them: which VQ, evaluator, codebook use and clips."""
    return {"vq": args.vq, "evaluator": args.evaluator, "codebook": not args.no_codebook, "split": args.split,
            "clips": len(items)}


def reconstructed_clips(args: argparse.Namespace):
    """(evaluator, EvalConfig, items, texts, ground-truth pairs, their reconstructions) of the clips ``args`` name."""
    from tqdm import tqdm

    from intermask.checkpoint import load_vq
    from intermask.models.evaluator import EvaluatorWithText

    vq, vq_cfg, norm = load_vq(args.vq)
    evaluator = EvaluatorWithText.from_dir(args.evaluator)
    cfg, items, texts, gt = eval_clips.open_clips(args, replications=1)
    rec = [reconstruct(vq, norm, g, 2 ** vq_cfg.vq.down_t, codebook=not args.no_codebook)
           for g in tqdm(gt, desc="reconstructing", unit="clip")]
    return evaluator, cfg, items, texts, gt, rec


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0])

    from intermask import evaluation as E
    from intermask.metrics import physics
    from intermask.motion.features import features_to_joints
    from intermask.skeleton import JOINT_NAMES

    evaluator, cfg, items, texts, gt, rec = reconstructed_clips(args)
    e_text = E.embed_texts(evaluator, texts)
    e_gt, e_rec = E.embed_motions(evaluator, gt), E.embed_motions(evaluator, rec)
    labels = E.item_labels(items)
    j_gt, j_rec = [features_to_joints(g) for g in gt], [features_to_joints(r) for r in rec]
    rows = {"ground_truth": E.distribution_row(e_text, e_gt, cfg, 0, None),
            "reconstruction": E.distribution_row(e_text, e_rec, cfg, 0, e_gt)}
    control = {who: {a: {"accuracy": c / t, "correct": c, "total": t} for a, (c, t) in
                     E.control_scores(labels, j).items()} for who, j in (("ground_truth", j_gt),
                                                                         ("reconstruction", j_rec))}
    # Which actions lose which attribute: the ceiling's counterpart of the evaluation's control_by_category.
    by_category = {cat: {a: {"correct": c, "total": t} for a, (c, t) in scores.items()}
                   for cat, scores in E.control_by_category(labels, j_rec).items()}
    phys = {who: physics.aggregate([physics.summary(x, FPS) for x in j]) for who, j in (("ground_truth", j_gt),
                                                                                       ("reconstruction", j_rec))}
    per_joint = np.mean([np.linalg.norm(g - r, axis=-1).reshape(-1, 22).mean(0) for g, r in zip(j_gt, j_rec)], 0)
    err = [np.linalg.norm(g - r, axis=-1).mean() for g, r in zip(j_gt, j_rec)]
    publish({**clips_scored(args, items), "rows": rows, "control": control, "control_by_category": by_category,
             "physics": phys, "mpjpe_m": float(np.mean(err)),
             "mpjpe_by_joint_m": dict(zip(JOINT_NAMES, map(float, per_joint))),
             "contact": contact_diagnosis(labels, j_gt, j_rec)}, args.out)


if __name__ == "__main__":
    main()
