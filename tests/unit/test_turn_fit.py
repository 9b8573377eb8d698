"""Model selection for the turn network (fitting and export run in test_train_turns)."""

from __future__ import annotations

import numpy as np
import pytest

from omnivox.lab.training.turn_fit import Examples, validation_auc


def test_model_selection_auc() -> None:
    data = Examples(
        np.zeros((6, 1, 1), np.float16),
        np.zeros((6, 1), np.float32),
        np.zeros((6, 1), np.float32),
        np.array([0, 0, 0, 1, 1, 1]),
        np.array([1, 0, 0, 1, 1, 0], np.float32),
    )
    probs = np.array(
        [
            [0.9, 0.0],
            [0.1, 0.0],
            [0.2, 0.0],  # overlap: ranked perfectly
            [0.0, 0.3],
            [0.0, 0.3],
            [0.0, 0.3],
        ]
    )  # pause: all tied
    assert validation_auc(probs, data) == pytest.approx((1.0 + 0.5) / 2)
    probs[0, 0] = 0.0  # the take-over now ranks below both backchannels
    assert validation_auc(probs, data) == pytest.approx((0.0 + 0.5) / 2)
