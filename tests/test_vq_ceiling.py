"""bench/vq_ceiling.py's contact diagnosis tells a misplaced pair from arms that do not reach."""
import importlib.util
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _vq_ceiling():
    sys.path.insert(0, str(BENCH))  # vq_ceiling imports its sibling result_file
    spec = importlib.util.spec_from_file_location("vq_ceiling", BENCH / "vq_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pair(reach: float, gap: float) -> np.ndarray:
    """(2, T, 22, 3): two persons facing each other ``gap`` m apart, right wrists reaching ``reach`` m forward."""
    j = np.zeros((2, 10, 22, 3))
    j[..., 1] = 1.0
    j[0, :, 0, 0], j[1, :, 0, 0] = 0.0, gap
    j[0, :, 21, 0] = reach
    j[1, :, 21, 0] = gap - reach
    j[0, :, 20], j[1, :, 20] = (0.0, 1.0, 0.5), (gap, 1.0, -0.5)  # left wrists hang by the body
    return j


def test_contact_diagnosis_blames_placement_or_reach():
    diagnose = _vq_ceiling().contact_diagnosis
    label = {"category": "handshake", "contact": True, "actor": "both"}
    gt = _pair(reach=0.45, gap=1.0)
    misplaced = _pair(reach=0.45, gap=1.5)  # same arms, persons 50 cm too far apart
    short = _pair(reach=0.2, gap=1.0)       # right place, arms 25 cm short
    out = diagnose([label, label, None], [gt, gt, gt], [misplaced, short, short])
    assert out["clips"] == 2  # the clip without a label is not a contact clip
    first, second = out["per_clip"]
    assert first["ground_truth"]["touches"] and not first["reconstruction"]["touches"]
    assert first["reconstruction_gt_roots"]["touches"]  # placement was the fault
    assert not second["reconstruction_gt_roots"]["touches"]  # the reach was
    assert out["touch_rate"] == {"ground_truth": 1.0, "reconstruction": 0.0, "reconstruction_gt_roots": 0.5}
