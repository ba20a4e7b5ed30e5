import numpy as np
import pytest

from intermask.motion.touch import TOUCH_SCALE, touch_weights
from intermask.skeleton import WRISTS


def _standing(x: float) -> np.ndarray:
    """(4, 22, 3): every joint of one person at height 1 m, x metres along the x axis."""
    j = np.zeros((4, 22, 3))
    j[..., 0], j[..., 1] = x, 1.0
    return j


def test_a_wrist_on_the_partners_hand_weighs_one_and_a_distant_one_almost_nothing():
    me, partner = _standing(0.0), _standing(1.0)
    me[1, WRISTS[1]] = partner[1, WRISTS[0]]  # frame 1: my right hand in the partner's left
    me[2, WRISTS[0], 0] = 1.0 - TOUCH_SCALE  # frame 2: my left hand 10 cm from the partner
    w = touch_weights(me, partner)
    assert w.shape == (4, 2) and w.dtype == np.float32
    assert w[1, 1] == pytest.approx(1.0)
    assert w[2, 0] == pytest.approx(np.exp(-1.0))
    assert w[0].max() < 1e-4  # a metre apart


def test_shapes_must_agree():
    with pytest.raises(ValueError, match=r"\(T, 22, 3\)"):
        touch_weights(_standing(0.0), _standing(1.0)[:2])
