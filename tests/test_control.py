"""Control accuracy: the checks score generated InterSynth clips ≈ 100% and a wrong motion low."""
import numpy as np
import pytest

from intermask.data.intersynth.categories import CATEGORIES
from intermask.data.intersynth.compose import generate_clip
from intermask.metrics import control
from intermask.motion.interaction import Interaction
from intermask.motion.mirror import mirror_positions


@pytest.fixture(scope="module")
def clips():
    """42 short clips: every category twice, with different parameters."""
    return [generate_clip(500 + i, category=CATEGORIES[i % len(CATEGORIES)]) for i in range(42)]


def test_ground_truth_scores_at_least_95_percent_per_attribute(clips):
    pairs = [(c.label, Interaction(c.joints, c.rot6d)) for c in clips]
    acc = control.control_accuracy(pairs)
    assert set(acc) == set(control.ATTRIBUTES)
    for attr, a in acc.items():
        assert a["total"] >= 4, attr
        assert a["accuracy"] >= 0.95, (attr, a)


def test_checks_do_not_depend_on_position_or_facing(clips):
    c = next(c for c in clips if c.label["category"] == "wave")
    ang = 1.3
    rot = np.array([[np.cos(ang), 0, np.sin(ang)], [0, 1, 0], [-np.sin(ang), 0, np.cos(ang)]])
    moved = c.joints @ rot.T + np.array([3.0, 0.0, -2.0])
    assert control.check_all(c.label, moved) == control.check_all(c.label, c.joints)


def test_mirrored_motion_with_the_original_label_fails_side(clips):
    wrong = [(c.label, np.stack([mirror_positions(c.joints[0]), mirror_positions(c.joints[1])])) for c in clips]
    assert control.control_accuracy(wrong)["side"]["accuracy"] < 0.2
    # ...and swapping the persons breaks the actor check for one-actor clips.
    swapped = [(c.label, c.joints[::-1]) for c in clips if c.label["actor"] in (0, 1)]
    assert control.control_accuracy(swapped)["actor"]["accuracy"] < 0.2


def test_not_applicable_checks_return_none():
    c = generate_clip(3, category="approach")
    r = control.check_all(c.label, c.joints)
    assert r["side"] is None and r["count"] is None and r["contact"] is None and r["limb"] is None
