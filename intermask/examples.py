"""The demo's example prompts, each with the InterSynth label its words imply.

The web demo offers the texts; ``python -m intermask.paraphrase --set examples`` scores them with the evaluation's
control checks, so "does the demo's handshake example shake right hands?" is a number, not an impression.
The texts are phrased like the InterSynth descriptions the bundled model was trained on; ``seconds`` is the
duration the check generates (the demo's default is 4 s).
"""
from __future__ import annotations

from intermask.paraphrase import Prompt

PROMPTS = [
    Prompt("They step forward and shake right hands.", 4.0,
           {"category": "handshake", "actor": "both", "limb": "hand", "side": "right", "contact": True}),
    Prompt("One of them raises the right hand and waves three times to the other one.", 4.0,
           {"category": "wave", "actor": 0, "limb": "hand", "side": "right", "count": 3, "contact": False}),
    Prompt("Both people hug each other.", 4.0,
           {"category": "hug", "actor": "both", "limb": "arm", "contact": True}),
    Prompt("A person pushes their partner with both hands, and their partner stumbles back.", 4.0,
           {"category": "push", "actor": 0, "limb": "hand", "hands": 2, "contact": True}),
    Prompt("Using the right foot, the second person kicks at the other and the other jumps away.", 4.0,
           {"category": "kick", "actor": 1, "limb": "leg", "side": "right", "contact": False}),
    Prompt("They give each other a high five with their left hands.", 4.0,
           {"category": "high_five", "actor": "both", "limb": "hand", "side": "left", "hands": 1, "contact": True}),
    Prompt("Both of them hold hands and dance, spinning counterclockwise.", 6.0,
           {"category": "dance", "actor": "both", "limb": "hand", "contact": True, "direction": "counterclockwise"}),
    Prompt("Someone hands an object to the other person with the left hand.", 4.0,
           {"category": "give", "actor": 0, "limb": "hand", "side": "left", "contact": True}),
    Prompt("A person moves in a circle around the other person, going clockwise.", 6.0,
           {"category": "circle", "actor": 0, "contact": False, "direction": "clockwise"}),
]

TEXTS = [p.text for p in PROMPTS]
