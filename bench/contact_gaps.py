"""How far generated touches miss: the contact distance of generated and ground-truth clips, per contact action.

    python bench/contact_gaps.py --data-root data/intersynth [--checkpoint DIR ...] [--clips 128] [--samples 3]
        [--out results/contact_gaps.json]

The control check counts a touch when the touching joints come within a limit (0.2 m wrist to wrist for hands;
``metrics/control.check_contact``), so its accuracy says how many touches fail, not by how much. This prints, for
every contact action among the evaluation's clips of a split (its fixed random subset, first replication's texts),
the ground truth's median distance and the quartiles of the generated ones (``--samples`` samples per clip, each
at the clip's length), with the share under the limit and under 0.3 m: a model that reaches but stops a few
centimetres short and one that never reaches look alike in the accuracy and not here.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_clips  # noqa: E402
from result_file import publish  # noqa: E402

NEAR = 0.3  # m: a miss by at most 10 cm at the hands' 0.2 m limit


def distance(label: dict, joints: np.ndarray) -> float | None:
    """The contact distance as the evaluation's check sees it: for a one-actor action (a push, a pat on the
    shoulder), the hands of the person who acts by the motion, whichever slot that is."""
    from intermask.evaluation import acting_label
    from intermask.metrics import control

    return control.contact_distance(acting_label(label, joints), joints)


def gaps(model, labels, texts, gt, samples: int, seed: int, settings) -> dict:
    """{category: {"gt": [distance per clip], "generated": [distance per sample], "limit": m}} for contact clips."""
    from tqdm import tqdm

    from intermask.metrics import control
    from intermask.motion.features import features_to_joints

    clips = [i for i, label in enumerate(labels) if label and label.get("contact")]
    out: dict[str, dict] = {}
    bar = tqdm(total=len(clips) * samples, desc="contact gaps", unit="clip")
    for s in range(samples):
        for start in range(0, len(clips), 32):
            chunk = clips[start:start + 32]
            feats = model.sample_features([texts[i] for i in chunk], [gt[i].shape[1] for i in chunk],
                                          seed + 1000 * s + start, settings)
            for i, f in zip(chunk, feats):
                label = labels[i]
                row = out.setdefault(label["category"], {"gt": [], "generated": [],
                                                         "limit": control.contact_limit(label)})
                if s == 0:
                    row["gt"].append(distance(label, features_to_joints(gt[i])))
                row["generated"].append(distance(label, features_to_joints(f)))
            bar.update(len(chunk))
    bar.close()
    return out


def summary(rows: dict) -> dict:
    table = {}
    for cat, row in sorted(rows.items()):
        g = np.asarray(row["generated"])
        q = np.quantile(g, [0.25, 0.5, 0.75])
        table[cat] = {"clips": len(row["gt"]), "samples": len(g), "limit_m": row["limit"],
                      "gt_median_m": float(np.median(row["gt"])),
                      "generated_quartiles_m": [round(float(x), 4) for x in q],
                      "touch": float(np.mean(g < row["limit"])), "within_0.3m": float(np.mean(g < NEAR))}
    return table


def markdown(checkpoint: str, table: dict) -> str:
    lines = [f"{checkpoint}", "", "| action | clips | samples | limit (m) | GT median (m) | generated quartiles (m) | "
             "touch | within 0.3 m |", "|---|---|---|---|---|---|---|---|"]
    for cat, r in table.items():
        q = " / ".join(f"{x:.3f}" for x in r["generated_quartiles_m"])
        lines.append(f"| {cat} | {r['clips']} | {r['samples']} | {r['limit_m']:.2f} | {r['gt_median_m']:.3f} | {q} | "
                     f"{r['touch']:.2f} | {r['within_0.3m']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from intermask.settings import SamplingSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eval_clips.add_arguments(parser, split="test", clips=128)
    parser.add_argument("--checkpoint", nargs="+", default=[None], help="transformer checkpoint(s); default: bundled")
    parser.add_argument("--samples", type=int, default=3, help="samples per clip")
    parser.add_argument("--sample-seed", type=int, default=1)
    parser.add_argument("--out", default=None)
    SamplingSettings.add_arguments(parser)
    args = parser.parse_args(argv)
    settings = SamplingSettings.from_arguments(args)

    import torch

    from intermask import evaluation as E
    from intermask.api import InterMask, repo_relative

    torch.set_num_threads(1)
    _, items, texts, gt = eval_clips.open_clips(args, replications=1)
    labels = E.item_labels(items)
    result = {"split": args.split, "clips": args.clips, "seed": args.seed, "samples": args.samples,
              "settings": settings.as_dict(), "checkpoints": {}}
    for ckpt in args.checkpoint:
        model = InterMask.from_pretrained(ckpt)
        table = summary(gaps(model, labels, texts, gt, args.samples, args.sample_seed, settings))
        name = repo_relative(model.checkpoint_dir)
        result["checkpoints"][name] = table
        print(markdown(name, table), file=sys.stderr)
    publish(result, Path(args.out) if args.out else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
