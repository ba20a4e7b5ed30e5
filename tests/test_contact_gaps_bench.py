"""bench/contact_gaps.py: how far each contact action's generated touches stop from the partner."""
import numpy as np
import pytest

from fixtures import load_bench, write_interhuman_tree
from intermask.data.interhuman import InterHumanDataset
from intermask.metrics import control
from intermask.motion.features import features_to_joints


class Replay:
    """A stand-in model that "generates" the ground truth back, so every gap must equal the ground truth's."""

    def __init__(self, texts, gt):
        self.by_text = dict(zip(texts, gt))
        self.calls = []

    def sample_features(self, texts, frames, seed, settings):
        self.calls.append((list(texts), list(frames), seed))
        return [self.by_text[t] for t in texts]


def test_replayed_ground_truth_misses_exactly_as_far_as_the_ground_truth(tmp_path):
    bench = load_bench("contact_gaps")
    write_interhuman_tree(tmp_path, n_clips=6, frames=(30, 60), seed=2)
    ds = InterHumanDataset(tmp_path, "train", None, max_frames=60, mirror=False, swap=False)
    gt = [np.stack([ds.clip(k).f1, ds.clip(k).f2]) for k in range(len(ds.ids))]
    texts = [f"clip {k}" for k in range(len(gt))]
    labels = [{"category": "give", "contact": True}, {"category": "hug", "contact": True}, None,
              {"category": "kick", "contact": False}][:len(gt)]
    labels += [{"category": "give", "contact": True}] * (len(gt) - len(labels))
    model = Replay(texts, gt)
    rows = bench.gaps(model, labels, texts, gt, samples=2, seed=5, settings=None)

    assert set(rows) == {"give", "hug"}  # contact clips only
    gives = [k for k, label in enumerate(labels) if label and label["category"] == "give"]
    want = [control.contact_distance(labels[k], features_to_joints(gt[k])) for k in gives]
    assert rows["give"]["gt"] == pytest.approx(want)
    assert rows["give"]["generated"] == pytest.approx(want * 2)  # two samples per clip
    assert rows["hug"]["limit"] == 0.3 and rows["give"]["limit"] == control.CONTACT_THRESHOLD
    assert len({seed for _, _, seed in model.calls}) == 2  # each sample its own seed

    table = bench.summary(rows)
    g = table["give"]
    assert g["clips"] == len(gives) and g["samples"] == 2 * len(gives)
    assert g["gt_median_m"] == pytest.approx(float(np.median(want)))
    assert g["touch"] == pytest.approx(float(np.mean(np.array(want) < 0.2)))
    assert g["generated_quartiles_m"][1] == pytest.approx(float(np.median(want)), abs=1e-4)
    assert "| give |" in bench.markdown("ckpt", table)


def test_a_push_is_measured_from_the_hands_of_whoever_pushes():
    bench = load_bench("contact_gaps")
    j = np.zeros((2, 40, 22, 3))
    j[:, :, :, 1] = np.linspace(0, 1.6, 22)  # two upright stick figures, side by side
    j[1, :, :, 0] = 1.0
    # the second slot's hands reach the first's chest and push it away
    j[1, 30:, list(control.WRISTS)] = j[0, 30:, control.SPINE3] + [0.05, 0.0, 0.0]
    j[0, 30:, :, 0] -= np.linspace(0, 0.5, 10)[:, None]
    label = {"category": "push", "contact": True, "actor": 0}
    assert control.contact_distance(label, j) > 0.5  # the first slot's own hands never touch
    assert bench.distance(label, j) < 0.2
