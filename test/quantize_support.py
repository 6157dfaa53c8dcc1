"""Shared by the interhand-quantize tests (a helper module, not a test file)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

# Thresholds no model can fail: for tests of the tool's mechanics, not of accuracy.
LENIENT = ['--max-error-px', '1e9', '--max-error-mm', '1e9', '--min-agreement', '0']


@pytest.fixture(scope='module')
def footage(tmp_path_factory):
    """An image folder: 8 frames, every 4th held out -> 6 calibration and 2 held-out crops."""
    folder = tmp_path_factory.mktemp('footage')
    rng = np.random.default_rng(0)
    for index in range(8):
        cv2.imwrite(str(folder / f'{index:03d}.png'),
                    rng.integers(0, 256, (240, 320, 3), np.uint8))
    return folder
