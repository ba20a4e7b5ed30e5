"""Descriptions: several paraphrase templates per category, filled with word-level variation.

Every side, limb and count in a label appears as a plain word ("left", "right", "hand", "leg", "twice",
"both"), so a text encoder can pick it up and :func:`intermask.motion.mirror.mirror_text` can swap it.
Templates for one actor use singular verbs; those for both persons plural ones.
"""
from __future__ import annotations

import numpy as np

COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times"}
SPEED_ADVERB = {"slow": ["slowly", "at a slow pace", "leisurely"], "normal": ["", "", "steadily"],
                "fast": ["quickly", "briskly", "fast"]}

T = {
    "handshake": {"both": [
        "{AB} shake hands with their {side} hands.",
        "{AB} greet each other with a {side} handshake.",
        "{AB} reach out their {side} hands and shake hands.",
        "{AB} step forward and shake {side} hands.",
        "{AB} clasp their {side} hands and shake them a few times.",
    ]},
    "high_five": {"both": [
        "{AB} give each other a high five with their {side} hands.",
        "{AB} raise their {side} hands and high five.",
        "{AB} slap their {side} hands together high in the air.",
        "{AB} do a high five using the {side} hand.",
    ]},
    "high_five_both": {"both": [
        "{AB} give each other a double high five with both hands.",
        "{AB} raise both hands and high five each other.",
        "{AB} slap both of their hands together at shoulder height.",
        "{AB} meet with both hands in a double high five.",
    ]},
    "fist_bump": {"both": [
        "{AB} bump fists with their {side} hands.",
        "{AB} greet each other with a {side} hand fist bump.",
        "{AB} touch their {side} fists together.",
        "{AB} make a fist with the {side} hand and bump fists.",
    ]},
    "hug": {"both": [
        "{AB} hug each other.",
        "{AB} embrace, wrapping their arms around each other.",
        "{AB} step close and hug, holding each other for a moment.",
        "{AB} give each other a warm hug and then let go.",
        "{AB} put their arms around each other in a hug.",
    ]},
    "give": {"one": [
        "{A} hands an object to {B} with the {side} hand.",
        "{A} gives something to {B} using the {side} hand, and {B} takes it.",
        "{A} passes an item to {B} with the {side} hand.",
        "{A} holds out the {side} hand and gives {B} an object.",
    ]},
    "pat_shoulder": {"one": [
        "{A} pats {B} on the {target} shoulder with the {side} hand {count}.",
        "{A} puts the {side} hand on the {target} shoulder of {B} and pats it {count}.",
        "using the {side} hand, {A} taps {B} on the {target} shoulder {count}.",
        "{A} reaches out with the {side} hand and pats {B}'s {target} shoulder {count}.",
    ]},
    "pull": {"one": [
        "{A} grabs {B} by the hand with the {side} hand and pulls them closer.",
        "{A} takes the hand of {B} with the {side} hand and pulls, and {B} stumbles forward.",
        "{A} pulls {B} by the hand using the {side} hand while stepping back.",
        "holding {B}'s hand in the {side} hand, {A} pulls them forward.",
    ]},
    "dance": {"both": [
        "{AB} hold hands and dance, spinning {direction}.",
        "{AB} join both hands and turn around together {direction}.",
        "{AB} dance holding hands and spin around {direction}.",
        "holding hands, {AB} spin in a circle {direction}.",
    ]},
    "wave": {"one": [
        "{A} waves at {B} with the {side} hand {count}.",
        "{A} raises the {side} hand and waves {count} to {B}.",
        "{A} greets {B} by waving the {side} hand {count}.",
        "with the {side} hand, {A} waves {count} at {B}.",
    ], "both": [
        "{AB} wave at each other with their {side} hands {count}.",
        "{AB} raise their {side} hands and wave {count}.",
        "{AB} greet each other by waving the {side} hand {count}.",
        "{AB} wave {count} to each other using the {side} hand.",
    ]},
    "bow": {"one": [
        "{A} bows {depth} to {B}{count_opt}.",
        "{A} bends forward {depth} in a bow toward {B}{count_opt}.",
        "facing {B}, {A} bows {depth}{count_opt}.",
        "{A} greets {B} with a {depth_adj} bow{count_opt}.",
    ], "both": [
        "{AB} bow {depth} to each other{count_opt}.",
        "{AB} face each other and bow {depth}{count_opt}.",
        "{AB} greet each other with a {depth_adj} bow{count_opt}.",
        "{AB} bend forward {depth} toward each other{count_opt}.",
    ]},
    "point": {"one": [
        "{A} points at {B} with the {side} hand.",
        "{A} raises the {side} arm and points at {B}.",
        "{A} stretches out the {side} hand and points toward {B}.",
        "using the {side} hand, {A} points at {B}.",
    ]},
    "clap": {"one": [
        "{A} claps {count} while facing {B}.",
        "{A} claps both hands together {count}.",
        "{A} applauds {B}, clapping {count}.",
        "facing {B}, {A} claps the hands {count}.",
    ], "both": [
        "{AB} clap their hands {count}.",
        "{AB} clap together {count}, facing each other.",
        "{AB} applaud, clapping both hands {count}.",
        "facing each other, {AB} clap {count}.",
    ]},
    "jump": {"one": [
        "{A} jumps up {count} in front of {B}.",
        "{A} jumps {count} with both legs while {B} watches.",
        "{A} hops up and down {count}.",
        "facing {B}, {A} jumps {count}.",
    ], "both": [
        "{AB} jump together {count}.",
        "{AB} jump up and down {count} at the same time.",
        "facing each other, {AB} jump {count}.",
        "{AB} hop {count} together with both legs.",
    ]},
    "push": {"one": [
        "{A} pushes {B} with the {side} hand, and {B} stumbles back.",
        "{A} shoves {B} using the {side} hand, making them step backward.",
        "with the {side} hand, {A} pushes {B} away.",
        "{A} pushes {B} in the chest with the {side} hand and {B} staggers back.",
    ]},
    "push_both": {"one": [
        "{A} pushes {B} with both hands, and {B} stumbles back.",
        "{A} shoves {B} with both hands, making them step backward.",
        "using both hands, {A} pushes {B} away.",
        "{A} pushes {B} in the chest with both hands and {B} staggers back.",
    ]},
    "punch": {"one": [
        "{A} punches at {B} with the {side} hand {count}, and {B} {reaction}.",
        "{A} throws a {side} hand punch {count} at {B}, who {reaction}.",
        "using the {side} fist, {A} punches toward {B} {count} and {B} {reaction}.",
        "{A} swings the {side} hand at {B} {count}; {B} {reaction}.",
    ]},
    "kick": {"one": [
        "{A} kicks at {B} with the {side} leg, and {B} jumps back.",
        "{A} lifts the {side} leg and kicks toward {B}, who jumps backward.",
        "using the {side} foot, {A} kicks at {B} and {B} jumps away.",
        "{A} kicks {B} with the {side} leg; {B} jumps back to avoid it.",
    ]},
    "approach": {"one": [
        "{A} walks {adv} toward {B} and stops in front of them.",
        "{A} approaches {B} {adv} and stands still.",
        "{A} walks {adv} up to {B}.",
        "{B} stands still while {A} walks {adv} over to them.",
    ], "both": [
        "{AB} walk {adv} toward each other and stop.",
        "{AB} approach each other {adv} and stand face to face.",
        "{AB} walk {adv} to meet each other.",
        "{AB} come {adv} toward each other and stop close together.",
    ]},
    "walk_away": {"one": [
        "{A} turns around and walks {adv} away from {B}.",
        "{A} leaves {B}, walking away {adv}.",
        "{A} turns away from {B} and walks off {adv}.",
        "{B} stays while {A} walks away {adv}.",
    ], "both": [
        "{AB} turn away from each other and walk off {adv}.",
        "{AB} walk away {adv} from each other in different directions.",
        "{AB} part ways and walk away {adv}.",
        "{AB} turn around and leave each other {adv}.",
    ]},
    "pass_by": {"both": [
        "{AB} walk {adv} past each other, passing on the {side}.",
        "{AB} walk toward each other {adv} and pass by on the {side} side.",
        "{AB} pass each other on the {side} while walking {adv}.",
        "walking {adv} in opposite directions, {AB} pass each other on the {side}.",
    ]},
    "follow": {"one": [
        "{A} follows {B} as they walk around.",
        "{B} walks along a curving path and {A} follows behind.",
        "{A} walks behind {B}, following them.",
        "{A} follows {B} closely, copying their turns.",
    ]},
    "chase": {"one": [
        "{A} chases {B}, running after them.",
        "{B} runs away and {A} runs after them.",
        "{A} runs behind {B}, chasing them.",
        "{A} chases after {B} as they both run.",
    ]},
    "circle": {"one": [
        "{A} walks around {B} {direction} while {B} turns to watch.",
        "{A} circles {direction} around {B}.",
        "{B} turns on the spot as {A} walks {direction} around them.",
        "{A} moves in a circle around {B}, going {direction}.",
    ], "both": [
        "{AB} circle around each other {direction}, facing each other.",
        "{AB} move {direction} around each other in a circle.",
        "facing each other, {AB} walk around in a circle {direction}.",
        "{AB} step sideways {direction} around each other.",
    ]},
}

PUNCH_REACTIONS = {"dodge": ["dodges", "leans away to dodge", "ducks out of the way"],
                   "block": ["blocks it", "blocks with a raised arm", "raises an arm to block"]}
DEPTH = {"slight": (["slightly", "a little"], ["slight", "small"]), "deep": (["deeply", "low"], ["deep", "formal"])}


def _actor_words(rng, actor) -> tuple[str, str]:
    """(subject, partner) phrases; "first"/"second" only when they name the right file order."""
    subj = ["one person", "a person", "someone", "one of them"]
    part = ["the other person", "the other", "their partner", "the other one"]
    if actor == 0:
        subj.append("the first person")
        part.append("the second person")
    elif actor == 1:
        subj.append("the second person")
        part.append("the first person")
    return str(rng.choice(subj)), str(rng.choice(part))


def template_key(label: dict) -> str:
    cat = label["category"]
    if cat == "high_five" and label.get("hands") == 2:
        return "high_five_both"
    if cat == "push" and label.get("hands") == 2:
        return "push_both"
    if cat == "follow" and label.get("style") == "chase":
        return "chase"
    return cat


def _fill(template: str, label: dict, rng) -> str:
    a, b = _actor_words(rng, label.get("actor"))
    count = label.get("count")
    depth = label.get("depth", "slight")
    words = {
        "A": a, "B": b, "AB": str(rng.choice(["two people", "both people", "the two people", "they",
                                             "two persons", "both of them"])),
        "side": label.get("side") or "", "target": label.get("target_side") or "",
        "count": COUNT_WORDS.get(count, f"{count} times") if count else "",
        "count_opt": (" " + COUNT_WORDS[count]) if count and count > 1 else "",
        "adv": str(rng.choice(SPEED_ADVERB.get(label.get("speed", "normal"), [""]))),
        "direction": label.get("direction", ""),
        "reaction": str(rng.choice(PUNCH_REACTIONS.get(label.get("partner_reaction"), ["reacts"]))),
        "depth": str(rng.choice(DEPTH[depth][0])), "depth_adj": str(rng.choice(DEPTH[depth][1])),
    }
    text = template.format(**words)
    text = " ".join(text.split()).replace(" ,", ",").replace(" .", ".").replace(" ;", ";")
    return text


def sentences(label: dict, rng: np.random.Generator, k: int = 3) -> list[str]:
    """k different sentences (without a capital letter at the start) for one category label."""
    group = T[template_key(label)]
    form = "both" if label.get("actor") == "both" else "one"
    if form not in group:
        form = next(iter(group))
    pool = list(group[form])
    order = rng.permutation(len(pool))
    out: list[str] = []
    for tries in range(4 * k):
        cand = _fill(pool[order[tries % len(pool)]], label, rng)
        if cand not in out:
            out.append(cand)
        if len(out) == k:
            break
    return out


def capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


def describe(parts: list[dict], rng: np.random.Generator, k: int = 3) -> list[str]:
    """k descriptions of a clip made of one or more consecutive parts (each a category label)."""
    per = [sentences(p, rng, k) for p in parts]
    joins = [", then ", ", and then ", "; after that, ", ", and afterwards "]
    out = []
    for i in range(k):
        pieces = [s[i % len(s)].rstrip(".") for s in per]
        if len(pieces) == 1:
            text = pieces[0]
        else:
            text = pieces[0]
            for j, piece in enumerate(pieces[1:]):
                last = j == len(pieces) - 2
                text += (", and finally " if last and len(pieces) > 2 else str(rng.choice(joins))) + piece
        out.append(capitalise(text) + ".")
    return out
