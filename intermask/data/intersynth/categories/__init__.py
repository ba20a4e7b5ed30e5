"""One builder per interaction category. A builder writes into a :class:`Scene` from frame t0 and returns
{"end": frame, "label": {...}, "words": {...}}; ``words`` carries choices that only the text needs.

REGISTRY maps a category name to (builder, distance range in statures, kind). Kinds: "contact" and
"gesture" happen on the spot and can be wrapped in a composite clip; "locomotion" categories move.
"""
from intermask.data.intersynth.categories import combat, contact, gestures, locomotion

REGISTRY = {
    "handshake": (contact.handshake, (0.42, 0.47), "contact"),
    "high_five": (contact.high_five, (0.38, 0.44), "contact"),
    "fist_bump": (contact.fist_bump, (0.42, 0.47), "contact"),
    "hug": (contact.hug, (0.19, 0.22), "contact"),
    "give": (contact.give, (0.38, 0.44), "contact"),
    "pat_shoulder": (contact.pat_shoulder, (0.3, 0.35), "contact"),
    "pull": (contact.pull, (0.44, 0.5), "contact"),
    "dance": (contact.dance, (0.36, 0.42), "contact"),
    "wave": (gestures.wave, (1.0, 2.2), "gesture"),
    "bow": (gestures.bow, (0.8, 1.3), "gesture"),
    "point": (gestures.point, (1.0, 2.0), "gesture"),
    "clap": (gestures.clap, (0.8, 1.6), "gesture"),
    "jump": (gestures.jump, (0.8, 1.5), "gesture"),
    "push": (combat.push, (0.38, 0.43), "contact"),
    "punch": (combat.punch, (0.55, 0.62), "contact"),
    "kick": (combat.kick, (0.68, 0.78), "contact"),
    "approach": (locomotion.approach, (2.0, 3.5), "locomotion"),
    "walk_away": (locomotion.walk_away, (0.55, 0.7), "locomotion"),
    "pass_by": (locomotion.pass_by, (2.5, 3.5), "locomotion"),
    "follow": (locomotion.follow, (1.0, 1.6), "locomotion"),
    "circle": (locomotion.circle, (0.5, 0.8), "locomotion"),
}
CATEGORIES = tuple(REGISTRY)
