"""Control accuracy on prompts worded unlike the InterSynth templates: does the model follow the meaning or the
template?

A model trained on InterSynth sees a few hundred sentence patterns. Users write "embrace" for hug, "greet" for
wave, "left leg" for left foot, and word order of their own. Each prompt here is written by hand, avoids the
templates' phrasing where the language allows, and carries the InterSynth label its meaning implies, so the
control checks of the evaluation score it as they score the test split.

    python -m intermask.paraphrase --checkpoint checkpoints/intersynth/intermask --samples 4 --out results/paraphrase.json

``--set examples`` scores the web demo's example prompts the same way (``intermask/examples.py``); ``--set order``
whether "the first person" / "the second person" picks which output person acts (``order_prompts``).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from intermask.errors import InterMaskError
from intermask.settings import SamplingSettings

SIDES = ("left", "right")


@dataclass(frozen=True)
class Prompt:
    text: str
    seconds: float
    label: dict = field(default_factory=dict)


def _sided(templates: list[str], seconds: float, **label) -> list[Prompt]:
    return [Prompt(t.format(side=s), seconds, {**label, "side": s}) for t in templates for s in SIDES]


def prompts() -> list[Prompt]:
    """The probe set: every sided prompt in both sides, so a model that ignores the side word scores 50%."""
    both_hand = {"actor": "both", "limb": "hand", "contact": True}
    one_hand = {"actor": 0, "limb": "hand"}
    out: list[Prompt] = []
    out += _sided(["The two of them greet each other with a {side}-handed handshake.",
                   "Two friends clasp {side} hands and shake them.",
                   "They meet in the middle and shake, using their {side} hands."], 4.0,
                  category="handshake", **both_hand)
    out += _sided(["The pair slap a {side}-handed high five.",
                   "They celebrate by smacking their {side} palms together up high."], 3.5,
                  category="high_five", hands=1, **both_hand)
    out += _sided(["They touch {side} fists.", "The two bump knuckles with their {side} hands."], 3.0,
                  category="fist_bump", **both_hand)
    out += _sided(["Both greet one another by waving the {side} hand.",
                   "They say hello to each other, each lifting the {side} arm to wave."], 3.5,
                  category="wave", actor="both", limb="hand", contact=False)
    out += _sided(["One of them gives the other a push using the {side} hand.",
                   "A person thrusts the {side} palm against the chest of the other, who staggers back."], 3.5,
                  category="push", hands=1, contact=True, **one_hand)
    out += _sided(["One person swings the {side} leg in a kick toward the other.",
                   "Someone lashes out at the partner with the {side} foot."], 3.5,
                  category="kick", actor=0, limb="leg", contact=False)
    out += _sided(["One person throws a {side}-handed jab at the other.",
                   "A person aims a blow with the {side} fist at the head of the partner."], 3.5,
                  category="punch", contact=False, **one_hand)
    out += _sided(["Someone indicates the other person with the {side} index finger.",
                   "One of the two directs the {side} arm at the partner, pointing."], 3.5,
                  category="point", contact=False, **one_hand)
    out += _sided(["One taps the partner on the shoulder with the {side} hand.",
                   "A person gives the other a friendly pat on the shoulder using the {side} hand."], 3.5,
                  category="pat_shoulder", contact=True, **one_hand)
    out += _sided(["One person hands an object over to the other with the {side} hand."], 4.0,
                  category="give", contact=True, **one_hand)
    out += [Prompt(t, 5.0, {"category": "hug", "actor": "both", "limb": "arm", "contact": True})
            for t in ("The two embrace.", "They wrap their arms around one another.",
                      "Two people embrace warmly, then release each other.")]
    out += [Prompt(t, 3.5, {"category": "clap", "actor": 0, "limb": "hand", "contact": False, "count": n})
            for t, n in (("One person applauds, bringing the palms together two times.", 2),
                         ("Someone claps three times.", 3))]
    out += [Prompt(t, 3.5, {"category": "jump", "actor": "both", "limb": "leg", "contact": False, "count": n})
            for t, n in (("Together they hop into the air two times.", 2),
                         ("Both leap up three times in place.", 3))]
    out += [Prompt("One of them takes a bow in front of the other.", 3.5,
                   {"category": "bow", "actor": 0, "contact": False}),
            Prompt("The two stroll up to one another and halt.", 4.0,
                   {"category": "approach", "actor": "both", "contact": False}),
            Prompt("They turn their backs on each other and leave in opposite directions.", 4.0,
                   {"category": "walk_away", "actor": "both", "contact": False}),
            Prompt("One person trails behind the other as they walk around.", 6.0,
                   {"category": "follow", "actor": 0, "contact": False})]
    out += [Prompt(t.format(d=d), 6.0, {"category": "dance", "actor": "both", "limb": "hand", "contact": True,
                                        "direction": d})
            for t in ("Hand in hand, the pair twirl around {d}.",) for d in ("clockwise", "counterclockwise")]
    return out


def order_prompts() -> list[Prompt]:
    """Prompts that name the acting person by the order of the output ("the second person kicks the first"), each
    in both orders; scored by ``order``: does the named slot do the action more than the other? A model that
    cannot tell "first" from "second" scores 50%."""
    templates = [("punch", "hand", "The {a} person punches the {b} person with the right hand."),
                 ("push", "hand", "The {a} person pushes the {b} person with both hands."),
                 ("point", "hand", "The {a} person points at the {b} person with the left hand."),
                 ("wave", "hand", "The {a} person waves the right hand at the {b} person."),
                 ("kick", "leg", "The {a} person kicks the {b} person with the left leg."),
                 ("pat_shoulder", "hand", "The {a} person pats the {b} person on the shoulder.")]
    out = []
    for cat, limb, t in templates:
        for slot, (a, b) in enumerate((("first", "second"), ("second", "first"))):
            out.append(Prompt(t.format(a=a, b=b), 3.5, {"category": cat, "actor": slot, "limb": limb,
                                                        "order": slot}))
    return out


SETS = ("paraphrases", "examples", "order")


def prompt_set(name: str) -> list[Prompt]:
    """A named prompt set of ``--set``."""
    if name == "examples":
        from intermask.examples import PROMPTS

        return list(PROMPTS)
    if name == "order":
        return order_prompts()
    return prompts()


def checks(label: dict, joints) -> dict[str, bool | None]:
    """The evaluation's control checks (the acting person is whoever acts), plus ``order`` for labels that name
    the slot that must act."""
    from intermask.evaluation import control_checks
    from intermask.metrics import control

    out = control_checks(label, joints)
    if label.get("order") in (0, 1):
        out["order"] = control.check_actor({**label, "actor": label["order"]}, joints)
    return out


def score(model, settings=None, samples: int = 4, seed: int = 0, progress: bool = True,
          items: list[Prompt] | None = None) -> dict:
    """Generate every prompt (``items``, default :func:`prompts`) ``samples`` times and score it
    → {"control": {attr: {...}}, "by_category": ...}."""
    from tqdm import tqdm

    from intermask.motion.features import features_to_joints
    from intermask.motion.features import FPS

    settings = settings if settings is not None else SamplingSettings()
    items = prompts() if items is None else items
    counts: dict[str, list[int]] = {}
    by_cat: dict[str, dict[str, list[int]]] = {}
    t0 = time.time()
    # One call per length: the batch costs as much as its longest member.
    groups: dict[float, list[Prompt]] = {}
    for p in items:
        groups.setdefault(p.seconds, []).append(p)
    bar = tqdm(total=len(items) * samples, desc="control probe", unit="clip", disable=not progress)
    for g, (seconds, group) in enumerate(sorted(groups.items())):
        texts = [p.text for p in group for _ in range(samples)]
        labels = [p.label for p in group for _ in range(samples)]
        frames = int(round(seconds * FPS))
        for start in range(0, len(texts), 32):
            feats = model.sample_features(texts[start:start + 32], [frames] * len(texts[start:start + 32]),
                                          seed + 1000 * g + start, settings)
            for label, f in zip(labels[start:start + 32], feats):
                for attr, ok in checks(label, features_to_joints(f)).items():
                    if ok is None:
                        continue
                    for table in (counts, by_cat.setdefault(label["category"], {})):
                        c = table.setdefault(attr, [0, 0])
                        c[0] += int(bool(ok))
                        c[1] += 1
            bar.update(len(feats))
    bar.close()

    def table(c):
        return {a: {"accuracy": k / n, "correct": k, "total": n} for a, (k, n) in sorted(c.items())}

    return {"prompts": len(items), "samples": samples, "seed": seed, "settings": settings.as_dict(),
            "control": table(counts), "by_category": {cat: table(c) for cat, c in sorted(by_cat.items())},
            "seconds": round(time.time() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="transformer checkpoint (default: the bundled model)")
    parser.add_argument("--set", choices=SETS, default="paraphrases",
                        help="paraphrases: prompts worded unlike the training templates; examples: the web demo's "
                             "example prompts (intermask/examples.py); order: prompts naming the acting person "
                             "as the first or the second")
    parser.add_argument("--samples", type=int, default=4, help="generations per prompt")
    parser.add_argument("--seed", type=int, default=0)
    SamplingSettings.add_arguments(parser)
    parser.add_argument("--out", default=None, help="write the result JSON here")
    args = parser.parse_args(argv)
    try:
        from intermask.api import InterMask

        model = InterMask.from_pretrained(args.checkpoint)
        settings = SamplingSettings.from_arguments(args)
        result = score(model, settings, args.samples, args.seed, items=prompt_set(args.set))
        result["set"] = args.set
    except InterMaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result["checkpoint"] = str(args.checkpoint or "bundled")
    # Recorded so that a results page quoting this file names the command behind every number.
    result["command"] = "python -m intermask.paraphrase " + shlex.join(sys.argv[1:] if argv is None else argv)
    for attr, r in result["control"].items():
        print(f"{attr:10s} {100 * r['accuracy']:5.1f}%  ({r['correct']}/{r['total']})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
