"""A backend of the tests' own (a helper module, not a test file): what adding a backend takes.

It runs engine.parts with torch on the CPU behind numpy arrays, from a state dict kept in the
model cache, and 'quantizes' to int8 by storing the same weights (exact, so any threshold
passes): enough for the registry, the factory, 'auto' and interhand-quantize to use it end to
end. test_engine_registry.py registers it with one registry line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from interhand_ros.engine.backends.base import Backend, BackendOptions, ModelWriter
from interhand_ros.engine.backends.compiled import PartsBackend, cached_model_dir
from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.model import InterNet, fold_batchnorm
from interhand_ros.engine.parts import GlobalPart, HandPart

NAME = 'tiny'
CONVERTER = __name__  # this one module also converts (write_fp32) and quantizes
_WEIGHTS = 'network.pt'


def version() -> str:
    return f'tiny-1+torch{torch.__version__}'


def native_precisions(device_type: str = 'cpu') -> tuple[str, ...]:
    return ('fp32', 'int8')


def write_fp32(checkpoint: Path, folder: Path, refine: bool) -> None:
    torch.save(fold_batchnorm(load_internet(checkpoint)).state_dict(), folder / _WEIGHTS)


class TinyBackend(PartsBackend):
    name = NAME

    def __init__(self, folder: Path, precision: str) -> None:
        self.precision = precision
        self.model_dir: Path | None = folder
        model = fold_batchnorm(InterNet().eval())  # the folded layout, then its weights
        model.load_state_dict(torch.load(folder / _WEIGHTS, weights_only=True))
        self._global = GlobalPart(model)
        self._hands = [HandPart(model, side) for side in (0, 1)]

    def run_global(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.inference_mode():
            features, root_m, presence = self._global(torch.from_numpy(images))
        return features.numpy(), root_m.numpy(), presence.numpy()

    def run_hand(self, side: int, features: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.inference_mode():
            crop_xy, depth_rel, confidence = self._hands[side](torch.from_numpy(features))
        return crop_xy.numpy(), depth_rel.numpy(), confidence.numpy()


def open_backend(checkpoint: Path, options: BackendOptions) -> TinyBackend:
    return TinyBackend(cached_model_dir(NAME, 'tiny', version(), checkpoint, options,
                                        CONVERTER), options.precision)


def build_quantized(fp32: Backend, calibration: np.ndarray, precision: str,
                    options: BackendOptions, presence_threshold: float, scratch: Path
                    ) -> tuple[TinyBackend, ModelWriter | None]:
    assert fp32.model_dir is not None
    weights = (fp32.model_dir / _WEIGHTS).read_bytes()

    def write(folder: Path) -> None:
        (folder / _WEIGHTS).write_bytes(weights)
    return TinyBackend(fp32.model_dir, precision), write
