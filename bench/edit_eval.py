"""Editing, measured: does a regenerated span follow its new description, and are its seams continuous?

    python bench/edit_eval.py --data-root data/intersynth --clips 32 --out results/edit.json
    python bench/edit_eval.py --table results/edit.json     # the README's tables from that file

Pairs of InterSynth test clips: a *target* clip and a *donor* clip of another category, at most as long as the
target minus 2 s. The middle of the target, as long as the donor, is regenerated for both people (``person=None``)
from the donor's description, with the bundled model's default sampling settings; the span is then scored against
the donor's description and labels, exactly as ``python -m intermask eval`` scores generated clips (the same
evaluator, R-precision within batches of 32, the same control checks with the acting person found from the motion):

- *edited span*: the span cut from the edited clip;
- *donor ground truth*: the donor clip itself (the ceiling);
- *generated from scratch*: the donor's description generated alone at the span's length (what the model does
  without context to respect);
- *target before editing*: the target's own span (the floor: it does not show the donor's description).

Every motion is cut and put into its own first frame's canonical frame by one function, so the rows differ only in
the motion. Seams: the largest joint-velocity jump from the last kept frame into the span (and mirrored at its end),
for several fade lengths of :func:`intermask.edit.splice` and for the decoded span pasted in without any correction,
all on the same regenerated tokens, against the distribution
of frame-to-frame velocity jumps over every frame of the target clips' ground truth.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intermask.settings import SamplingSettings  # noqa: E402
from result_file import publish  # noqa: E402  (bench/result_file.py)
from intermask.api import DEFAULT_EVALUATOR, repo_relative  # noqa: E402

SEAM_VARIANTS = (0, 4, 8, 12, 16)
SEAM_REACH = 12  # frames into the span a seam's jump is looked for (the default cross-fade's length)
CONTEXT_FRAMES = 30  # kept on each side of the span at least (1 s)
MIN_SPAN_FRAMES = 60


def choose_pairs(root: Path, ids: list[str], clips: int, seed: int) -> list[tuple[int, int]]:
    """(target, donor) test indices: the donor of another category, 2–… s long, fitting inside the target with
    CONTEXT_FRAMES on each side; each clip used once."""
    labels = [json.loads((root / "labels" / f"{i}.json").read_text()) for i in ids]
    order = np.random.default_rng(seed).permutation(len(ids)).tolist()
    used: set[int] = set()
    pairs = []
    for t in order:
        if len(pairs) == clips:
            break
        if t in used or labels[t]["frames"] < MIN_SPAN_FRAMES + 2 * CONTEXT_FRAMES + 1:
            continue
        for d in order:
            room = labels[t]["frames"] - 1 - 2 * CONTEXT_FRAMES
            if d in used or d == t or labels[d]["category"] == labels[t]["category"]:
                continue
            if MIN_SPAN_FRAMES <= labels[d]["frames"] - 1 <= room:
                pairs.append((t, d))
                used.update((t, d))
                break
    return pairs


def pasted(clip, decoded: np.ndarray, plan) -> np.ndarray:
    """The decoded span copied in as it is, without :func:`intermask.edit.splice`'s seam correction."""
    from intermask.motion.features import features_to_joints

    joints = clip.joints.copy()
    f0 = plan.window_frames[0]
    joints[:, plan.start:plan.stop] = features_to_joints(decoded)[:, plan.start - f0:plan.stop - f0]
    return joints


def canonical_span(joints: np.ndarray, rot6d: np.ndarray) -> np.ndarray:
    """A pair's motion → features (2, T, 262) in person 0's canonical frame at its first frame (the evaluator's)."""
    from intermask.edit import world_features
    from intermask.motion.frames import facing_frame

    frame = facing_frame(joints[0], floor=float(joints[..., 1].min()))
    return frame.features_to_canonical(world_features(joints, rot6d))


ROWS = {"donor_ground_truth": "Donor clip itself (ground truth, the ceiling)",
        "generated_from_scratch": "Donor's description generated alone at the span's length",
        "edited_span": "**Edited span** (both people regenerated, context kept)",
        "target_before_editing": "Target's span before editing (the floor)"}


def markdown(result: dict) -> str:
    """The README's two tables: the span against the donor's description, and the seams."""
    attrs = [a for a in ("actor", "side", "limb", "contact", "count") if a in result["control"]["edited_span"]]
    head = ["Span scored against the donor's description", "R@1", "R@2", "R@3", "MM Dist"] + [
        f"{a} % (n={result['control']['edited_span'][a]['total']})" for a in attrs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, name in ROWS.items():
        r, c = result["retrieval"][key], result["control"][key]
        cells = [f"{r[f'R_precision_top{k}']:.3f}" for k in (1, 2, 3)] + [f"{r['MM_Dist']:.2f}"]
        cells += [f"{100 * c[a]['accuracy']:.0f}" if a in c else "–" for a in attrs]
        lines.append("| " + " | ".join([name] + cells) + " |")
    seams = result["seams"]
    gt = seams["ground_truth_frame_to_frame"]
    lines += ["", f"Seams ({seams['by_fade_frames']['0']['seams']}; the largest joint-velocity change from the last "
              f"kept frame to {seams['reach_frames']} frames into the span, m/frame). Ground truth, every frame of "
              f"the target clips: median {gt['p50']:.3f}, 95th percentile {gt['p95']:.3f}, 99th {gt['p99']:.3f}.", "",
              "| Joining | median | 90th percentile | largest | seams within the GT's 95th / 99th percentile |",
              "|---|---|---|---|---|"]
    names = {"pasted": "decoded span pasted in", "0": "displacement only"}
    rows = seams["by_fade_frames"]
    for key, row in sorted(rows.items(), key=lambda kv: -1 if kv[0] == "pasted" else int(kv[0])):
        name = names.get(key, f"displacement + {key}-frame cross-fade")
        if key == str(result["seam_frames"]):
            name = f"**{name} (default)**"
        lines.append(f"| {name} | {row['median']:.3f} | {row['p90']:.3f} | {row['max']:.3f} | "
                     f"{100 * row['within_gt_p95']:.0f}% / {100 * row['within_gt_p99']:.0f}% |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="transformer checkpoint (default: the bundled one)")
    p.add_argument("--evaluator", default=repo_relative(DEFAULT_EVALUATOR))
    p.add_argument("--data-root")
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=None, help="R-precision batch (default 32, as the evaluation)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    SamplingSettings.add_arguments(p)  # --cond-scale, --time-steps, ... (default: the bundled defaults)
    p.add_argument("--table", type=Path, default=None, help="only print the Markdown tables of this result file")
    args = p.parse_args()
    if args.table is not None:
        print(markdown(json.loads(args.table.read_text())), end="")
        return
    if not args.data_root:
        p.error("--data-root is required (unless --table)")
    torch.set_num_threads(args.threads)

    from tqdm import tqdm

    from intermask import edit as E
    from intermask import evaluation as EV
    from intermask.api import InterMask
    from intermask.data.interhuman import InterHumanDataset
    from intermask.metrics import retrieval as R
    from intermask.metrics.seams import seam_jump, velocity_jumps
    from intermask.models.evaluator import EvaluatorWithText
    from intermask.motion.features import FPS, features_to_joints, features_to_rot6d
    from intermask.motion.interaction import Interaction

    model = InterMask.from_pretrained(args.checkpoint)
    evaluator = EvaluatorWithText.from_dir(args.evaluator)
    settings = SamplingSettings.from_arguments(args)
    dataset = InterHumanDataset(args.data_root, "test", normalizer=None, max_frames=300, mirror=False,
                                seed=args.seed, swap=True)
    dataset.set_epoch(0)
    pairs = choose_pairs(Path(args.data_root), list(dataset.ids), args.clips, args.seed)
    batch = args.batch_size or R.DEFAULT_BATCH
    if len(pairs) < batch:
        raise SystemExit(f"only {len(pairs)} pairs; R-precision needs a batch of {batch}")

    rows: dict[str, list[np.ndarray]] = {"edited_span": [], "donor_ground_truth": [], "target_before_editing": []}
    joints_rows: dict[str, list[np.ndarray]] = {k: [] for k in rows}
    texts, labels, spans, seams, gt_jumps, inside = [], [], [], {n: [] for n in (*SEAM_VARIANTS, "pasted")}, [], []
    started = time.time()
    for k, (t, d) in enumerate(tqdm(pairs, desc="editing", unit="clip")):
        target, donor = dataset[t], dataset[d]
        feats = np.asarray(target["motion"][:, :target["length"]], dtype=np.float32)
        clip = Interaction(features_to_joints(feats), features_to_rot6d(feats), text=target["text"])
        gt_jumps.append(velocity_jumps(clip.joints)[1:-1])
        length = int(donor["length"])
        first = (clip.num_frames - length) // 2
        plan = E.plan_edit(clip.num_frames, first / FPS, (first + length) / FPS, None, donor["text"],
                           model.frames_per_token, model.max_tokens)
        assert (plan.start, plan.stop) == (first, first + length)
        decoded = E.regenerate(model, clip, plan, donor["text"], EV.derive_seed(args.seed, k), settings)
        for n in SEAM_VARIANTS:
            joints, _ = E.splice(clip, decoded, plan, seam_frames=n)
            seams[n].append(seam_jump(joints, plan.start, plan.stop, SEAM_REACH))
        seams["pasted"].append(seam_jump(pasted(clip, decoded, plan), plan.start, plan.stop, SEAM_REACH))
        joints, rot6d = E.splice(clip, decoded, plan)
        inside.append(velocity_jumps(joints)[plan.start + 2 * SEAM_REACH: plan.stop - 2 * SEAM_REACH])
        span = slice(plan.start, plan.stop)
        donor_feats = np.asarray(donor["motion"][:, :length], dtype=np.float32)
        for name, (j, r) in {"edited_span": (joints[:, span], rot6d[:, span]),
                             "donor_ground_truth": (features_to_joints(donor_feats), features_to_rot6d(donor_feats)),
                             "target_before_editing": (clip.joints[:, span], clip.rot6d[:, span])}.items():
            rows[name].append(canonical_span(j, r))
            joints_rows[name].append(j)
        texts.append(donor["text"])
        labels.append(EV.slot_label(donor["label"], donor.get("persons")) if donor.get("label") else None)
        spans.append({"target": dataset.ids[t], "donor": dataset.ids[d], "frames": [plan.start, plan.stop],
                      "target_frames": clip.num_frames, "text": donor["text"]})
    edit_seconds = time.time() - started
    scratch = model.sample_features(texts, [f.shape[1] for f in rows["donor_ground_truth"]],
                                    EV.derive_seed(args.seed, 99), settings)
    rows["generated_from_scratch"] = [canonical_span(features_to_joints(f), features_to_rot6d(f)) for f in scratch]
    joints_rows["generated_from_scratch"] = [features_to_joints(f) for f in scratch]

    rng_seed = EV.derive_seed(args.seed, 11)
    e_text = EV.embed_texts(evaluator, texts)
    retrieval, control = {}, {}
    for name, feats in rows.items():
        e_motion = EV.embed_motions(evaluator, feats)
        retrieval[name] = R.matching_metrics(e_text, e_motion, batch, rng=np.random.default_rng(rng_seed))
        control[name] = {a: {"accuracy": c / n, "correct": c, "total": n}
                         for a, (c, n) in EV.control_scores(labels, joints_rows[name]).items()}

    gt = np.concatenate(gt_jumps)
    gt_pct = {f"p{q}": float(np.percentile(gt, q)) for q in (50, 90, 95, 99)}
    seam_rows = {}
    for n, values in seams.items():
        v = np.array([x for s in values for x in (s["start"], s["end"]) if x is not None])
        seam_rows[str(n)] = {"seams": int(len(v)), "median": float(np.median(v)), "p90": float(np.percentile(v, 90)),
                             "max": float(v.max()), "within_gt_p99": float(np.mean(v <= gt_pct["p99"])),
                             "within_gt_p95": float(np.mean(v <= gt_pct["p95"]))}
    result = publish({"checkpoint": repo_relative(model.checkpoint_dir), "data_root": args.data_root, "split": "test",
             "pairs": len(pairs), "batch_size": batch, "person": None, "settings": settings.as_dict(),
             "seam_frames": E.SEAM_FRAMES,
             "retrieval": retrieval, "control": control,
             "seams": {"unit": "metres per frame, largest over joints and persons", "reach_frames": SEAM_REACH,
                       "ground_truth_frame_to_frame": {**gt_pct, "frames": int(len(gt))},
                       "edited_span_inside": {f"p{q}": float(np.percentile(np.concatenate(inside), q))
                                              for q in (50, 90, 95, 99)},
                       "by_fade_frames": seam_rows,
                       "note": "'pasted': the decoded span copied in without correction; a number: splice() with "
                               "that many cross-fade frames (its displacement over the span is always on)"},
             "edit_seconds_per_clip": edit_seconds / len(pairs), "spans": spans}, args.out)
    print(markdown(result), end="")


if __name__ == "__main__":
    main()
