"""The paraphrase probe: hand-written prompts with the labels their meaning implies, scored by the control checks."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import write_tiny_checkpoint  # noqa: E402
from intermask.api import InterMask  # noqa: E402
from intermask.data.intersynth.text import sentences  # noqa: E402
from intermask.metrics.control import ATTRIBUTES  # noqa: E402
from intermask.paraphrase import prompts, score  # noqa: E402
from intermask.settings import SamplingSettings  # noqa: E402
from intermask.text.base import ToyTextEncoder  # noqa: E402


def _norm(text: str) -> str:
    return " ".join(text.lower().rstrip(".").split())


def test_prompts_are_balanced_in_side_and_unlike_the_training_templates():
    items = prompts()
    sided = [p for p in items if p.label.get("side")]
    assert Counter(p.label["side"] for p in sided) == {"left": len(sided) // 2, "right": len(sided) // 2}
    for p in sided:  # the side word is in the text and agrees with the label
        assert p.label["side"] in p.text and ({"left", "right"} - {p.label["side"]}).pop() not in p.text
    # No prompt is a sentence the InterSynth templates produce for the same label.
    rng = np.random.default_rng(0)
    for p in items:
        made = {_norm(s) for _ in range(20) for s in sentences(p.label, rng, k=3)}
        assert _norm(p.text) not in made, p.text
    assert {"handshake", "hug", "wave", "kick", "push"} <= {p.label["category"] for p in items}


def test_score_reports_each_attribute_over_every_generated_sample(tmp_path):
    model = InterMask.from_pretrained(write_tiny_checkpoint(tmp_path), text_encoder=ToyTextEncoder())
    result = score(model, SamplingSettings(time_steps=2), samples=1, progress=False)
    assert result["prompts"] == len(prompts())
    assert set(result["control"]) <= set(ATTRIBUTES) and {"side", "limb", "actor"} <= set(result["control"])
    sided = sum(1 for p in prompts() if p.label.get("side"))
    assert result["control"]["side"]["total"] == sided  # every sided prompt is checkable
    for r in result["control"].values():
        assert 0 <= r["correct"] <= r["total"] and r["accuracy"] == r["correct"] / r["total"]
    hand = result["by_category"]["handshake"]["side"]
    assert hand["total"] == 6


def test_the_demo_examples_carry_the_labels_their_words_imply(tmp_path):
    import json

    from intermask.examples import PROMPTS
    from intermask.paraphrase import main

    for p in PROMPTS:  # a side, direction or count in the label is a word of the text
        for key in ("side", "direction"):
            if p.label.get(key):
                assert p.label[key] in p.text.lower(), p.text
        if p.label.get("count"):
            assert {2: "twice", 3: "three times"}[p.label["count"]] in p.text, p.text
    # The examples the check scores are the ones the demo offers.
    app_source = (Path(__file__).resolve().parents[1] / "app.py").read_text()
    assert "EXAMPLES = EXAMPLE_TEXTS" in app_source

    ckpt = write_tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "examples.json"
    assert main(["--checkpoint", str(ckpt), "--set", "examples", "--samples", "1", "--time-steps", "2",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["set"] == "examples" and result["prompts"] == len(PROMPTS)
    # Every example is checked for what its label names: both handshake persons, the wave's count, the dance's turn.
    assert result["by_category"]["handshake"]["side"]["total"] == 1
    assert result["by_category"]["wave"]["count"]["total"] == 1
    assert result["by_category"]["dance"]["direction"]["total"] == 1
    assert set(result["by_category"]) == {p.label["category"] for p in PROMPTS}


def test_the_order_set_asks_for_the_named_person_in_both_orders(tmp_path):
    import json

    from intermask.paraphrase import checks, main, order_prompts

    items = order_prompts()
    for first, second in zip(items[::2], items[1::2]):  # each sentence in both orders
        assert first.text.startswith("The first person") and second.text.startswith("The second person")
        assert (first.label["order"], second.label["order"]) == (0, 1)
    # The check follows the slot: whoever does the action more is "the first person" if they are in slot 0.
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(2, 40, 22, 3)) * 0.05 + np.array([0.0, 1.0, 0.0])
    joints[0, 20:, 21, 2] += 0.6  # person 0's right hand goes far forward
    label = items[0].label
    assert checks(label, joints)["order"] is True
    assert checks({**label, "actor": 1, "order": 1}, joints)["order"] is False
    assert checks({**label, "actor": 1, "order": 1}, joints[::-1])["order"] is True

    out = tmp_path / "order.json"
    assert main(["--checkpoint", str(write_tiny_checkpoint(tmp_path / "ckpt")), "--set", "order", "--samples", "1",
                 "--time-steps", "2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["control"]["order"]["total"] == len(items)
