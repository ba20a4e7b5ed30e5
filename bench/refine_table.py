"""The README's refinement table: raw against refined output, from four `eval --out` result files (issue 18).

    python bench/refine_table.py [--generate-raw results/refine_generate_raw.json] [...]

Raw and refined runs of one mode come from the same generations (same seeds; the refinement is applied after
decoding), so every difference between their rows is the refinement's. With one replication the evaluation's
own ±95% interval is 0, so R@3 and control accuracy get binomial 95% intervals over the clips here
(1.96·sqrt(p(1−p)/n)). Physics targets: within 20% of the ground truth, or the absolute allowance of
`python -m intermask results` where the ground truth is ≈ 0.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intermask.evaluation import _PHYS, _PHYS_FLOOR  # noqa: E402  (the results command's names and allowances)

RESULTS = Path(__file__).resolve().parent.parent / "results"
PHYSICS = ("interpenetration_frac", "interpenetration_m", "foot_skate_mps", "ground_penetration_m",
           "ground_penetration_frac", "bone_length_drift", "acceleration_mps2", "jerk_mps3")


def _row(result: dict) -> str:
    return "reaction" if result["protocol"].get("react") else "generated"


def binomial(p: float, n: int) -> str:
    return f"{p:.3f} ± {1.96 * math.sqrt(max(p * (1 - p), 0.0) / max(n, 1)):.3f}"


def verdict(value: float, gt: float, key: str) -> str:
    allowed = max(0.2 * abs(gt), _PHYS_FLOOR.get(key, 0.0))
    return "✓" if abs(value - gt) <= allowed else f"✗ ({value - gt:+.3g}, allowed ±{allowed:.3g})"


def table(named: list[tuple[str, dict]]) -> list[str]:
    first = named[0][1]
    gt_phys = first["physics"]["ground_truth"]
    head = ["Output"] + [_PHYS[k] for k in PHYSICS] + ["R@3 (95% CI)"]
    attrs = [a for a in first["control"][_row(first)] if first["control"][_row(first)][a]["total"]]
    head += [f"{a} %" for a in attrs]
    gt_r3 = first["rows"]["ground_truth"]["R_precision_top3"]["mean"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
             "| Ground truth | " + " | ".join(f"{gt_phys[k]['mean']:.4g}" for k in PHYSICS)
             + f" | {gt_r3:.3f} | " + " | ".join("100" for _ in attrs) + " |"]
    for name, res in named:
        who = _row(res)
        phys = res["physics"][who]
        n = res["protocol"]["clips"]
        r3 = res["rows"][who]["R_precision_top3"]["mean"]
        cells = [f"{phys[k]['mean']:.4g}" for k in PHYSICS] + [binomial(r3, n)]
        for a in attrs:
            c = res["control"][who][a]
            cells.append(f"{100 * c['mean']:.1f} ± {196 * math.sqrt(c['mean'] * (1 - c['mean']) / c['total']):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def targets(name: str, res: dict) -> str:
    who = _row(res)
    gt = res["physics"]["ground_truth"]
    parts = [f"{_PHYS[k]} {verdict(res['physics'][who][k]['mean'], gt[k]['mean'], k)}" for k in PHYSICS]
    return f"- {name}: " + "; ".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for mode in ("generate", "react"):
        for kind in ("raw", "refined"):
            p.add_argument(f"--{mode}-{kind}", type=Path, default=RESULTS / f"refine_{mode}_{kind}.json")
    args = p.parse_args()
    load = lambda path: json.loads(Path(path).read_text())  # noqa: E731
    lines = []
    for title, raw, refined in (("Text to interaction", args.generate_raw, args.generate_refined),
                                ("Reaction (A given; only B refined)", args.react_raw, args.react_refined)):
        named = [("raw", load(raw)), ("refined", load(refined))]
        lines += [f"**{title}**, {named[0][1]['protocol']['clips']} test clips:", ""] + table(named) + [""]
        lines += [targets(f"{title}, {name}", res) for name, res in named] + [""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
