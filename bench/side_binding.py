"""Side accuracy per action and per named side, and who takes the named hand (issue 13).

    python bench/side_binding.py [--checkpoint DIR] [--samples 4] [--out results/side_binding.json]

The test split's side accuracy mixes two failures: a model that ignores the side word (it then scores its own
default side right and the other wrong, so "left" and "right" prompts score far apart) and a model that gives the
named hand to the wrong person. In a pull, for instance, the puller takes the partner's hand with the named hand,
so the partner uses the other one (they face each other); a model that lets the partner read "the right hand" as
its own gets every check of that sample wrong. Each sided action is generated from InterSynth's own templates
(with the template's neutral actor words, never "first"/"second"), ``--samples`` times per template and side, at
a length typical of the action's single clips, and scored by the evaluation's checks (the acting person is whoever acts). For actions
of one person the table also gives how often the *partner's* more active hand (or leg) is the named one.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (category, seconds, label): one-actor labels name actor 0 (templates then use neutral words; the checks pick
# the acting person by the motion); the both-person actions name both.
ACTIONS = (
    ("pull", 3.5, {"actor": 0, "limb": "hand", "contact": True}),
    ("push", 3.5, {"actor": 0, "limb": "hand", "contact": True, "hands": 1}),
    ("punch", 3.0, {"actor": 0, "limb": "hand", "count": 1, "partner_reaction": "dodge"}),
    ("give", 3.5, {"actor": 0, "limb": "hand", "contact": True}),
    ("point", 3.0, {"actor": 0, "limb": "hand"}),
    ("kick", 3.0, {"actor": 0, "limb": "leg"}),
    ("handshake", 4.0, {"actor": "both", "limb": "hand", "contact": True}),
    ("high_five", 3.5, {"actor": "both", "limb": "hand", "contact": True, "hands": 1}),
    ("fist_bump", 3.0, {"actor": "both", "limb": "hand", "contact": True}),
    ("pass_by", 3.5, {"actor": "both", "speed": "normal"}),
)
SIDES = ("left", "right")


def prompts(samples: int) -> list[tuple[str, float, dict]]:
    """(text, seconds, label) for every template of every action, both sides, ``samples`` times each."""
    from intermask.data.intersynth import text as T

    out = []
    for cat, seconds, base in ACTIONS:
        for side in SIDES:
            label = {**base, "category": cat, "side": side}
            # Actor None: neutral actor words ("one person", "the other"); "first"/"second" would name a slot.
            n = len(next(iter(T.T[T.template_key(label)].values())))
            for text in T.sentences({**label, "actor": None}, np.random.default_rng(0), k=n):
                out += [(T.capitalise(text), seconds, label)] * samples
    return out


def partner_side(label: dict, joints: np.ndarray) -> bool | None:
    """Whether the non-acting person's more active hand (leg) is the named side; None for two-person actions."""
    from intermask.evaluation import acting_slot
    from intermask.metrics import control

    if label.get("actor") not in (0, 1):
        return None
    return control.check_side({**label, "actor": 1 - acting_slot(label, joints)}, joints)


def score(model, samples: int, seed: int, settings) -> dict:
    from tqdm import tqdm

    from intermask.evaluation import control_checks
    from intermask.motion.features import FPS, features_to_joints

    items = prompts(samples)
    table: dict[str, dict[str, list[int]]] = {}
    bar = tqdm(total=len(items), desc="side binding", unit="clip")
    for start in range(0, len(items), 32):
        chunk = items[start:start + 32]
        by_len: dict[float, list[int]] = {}
        for k, (_, seconds, _) in enumerate(chunk):
            by_len.setdefault(seconds, []).append(k)
        for seconds, ks in by_len.items():
            feats = model.sample_features([chunk[k][0] for k in ks], [int(round(seconds * FPS))] * len(ks),
                                          seed + start + int(seconds * 10), settings)
            for k, f in zip(ks, feats):
                label = chunk[k][2]
                j = features_to_joints(f)
                row = table.setdefault(label["category"], {})
                for key, ok in ((label["side"], control_checks(label, j).get("side")),
                                ("partner_" + label["side"], partner_side(label, j))):
                    if ok is not None:
                        c = row.setdefault(key, [0, 0])
                        c[0] += int(bool(ok))
                        c[1] += 1
            bar.update(len(ks))
    bar.close()
    return {cat: {k: {"correct": c, "total": t} for k, (c, t) in sorted(row.items())} for cat, row in table.items()}


def markdown(result: dict) -> str:
    def cell(row, key):
        c = row.get(key)
        return f"{c['correct']}/{c['total']}" if c else "–"

    lines = ["| action | side right, \"left\" prompts | side right, \"right\" prompts | partner's hand is the named "
             "one, \"left\" | \"right\" |", "|---|---|---|---|---|"]
    for cat, row in result["actions"].items():
        lines.append(f"| {cat} | {cell(row, 'left')} | {cell(row, 'right')} | {cell(row, 'partner_left')} | "
                     f"{cell(row, 'partner_right')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from intermask.settings import SamplingSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--samples", type=int, default=4, help="samples per template and side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    SamplingSettings.add_arguments(parser)
    args = parser.parse_args(argv)
    settings = SamplingSettings.from_arguments(args)

    from intermask.api import InterMask, repo_relative

    model = InterMask.from_pretrained(args.checkpoint)
    result = {"command": " ".join(["python bench/side_binding.py", *(argv if argv is not None else sys.argv[1:])]),
              "checkpoint": repo_relative(model.checkpoint_dir), "samples": args.samples, "seed": args.seed,
              "settings": settings.as_dict(), "actions": score(model, args.samples, args.seed, settings)}
    print(markdown(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
