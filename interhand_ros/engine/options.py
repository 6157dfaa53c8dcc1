"""The engine's choices, defined once and importable without torch: what the node's parameters,
interhand-run's flags, EngineConfig, the benchmark and training accept (the backends come from
engine.backends.registry, which imports no backend until one is used)."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from interhand_ros.engine.backends.registry import BackendChoices

# Backends that run the network (engine.backends.registry: torch is the reference) and 'auto',
# the fastest exact one installed for the device; read from the registry at each use.
BACKENDS = BackendChoices()
# Floating-point precisions (torch autocast dtypes): what training can use too.
FLOAT_PRECISIONS = ('fp32', 'bf16', 'fp16')
# Inference precisions; int8 needs a model calibrated on the user's footage (interhand-quantize).
PRECISIONS = FLOAT_PRECISIONS + ('int8',)
# 'auto': the depth image when one is given, else the hand-size prior.
DEPTH_MODES = ('auto', 'hand_size', 'depth_image', 'fixed')


class DeviceError(ValueError):
    """A device name that is malformed or names hardware this machine does not have."""


def check_device_name(name: str) -> None:
    """Raise DeviceError unless name is 'auto', 'cpu', 'cuda' or 'cuda:N'."""
    index = name[len('cuda:'):] if name.startswith('cuda:') else None
    if name not in ('auto', 'cpu', 'cuda') and not (index is not None and index.isdigit()):
        raise DeviceError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")


def resolve_device(name: str, cuda_fallback: bool = False,
                   warn: Callable[[str], None] | None = None) -> str:
    """The one device rule: 'auto' -> 'cuda' when CUDA is available, else 'cpu'.

    CUDA requested but absent: 'cpu' with a warning when cuda_fallback, else DeviceError.
    Returns a name torch.device accepts.
    """
    check_device_name(name)
    if name == 'cpu':
        return name
    if cuda_available():
        return 'cuda' if name == 'auto' else name
    if name == 'auto':
        return 'cpu'
    if not cuda_fallback:
        raise DeviceError(f'device {name!r} requested but CUDA is not available '
                          '(set cuda_fallback:=true to run on the CPU instead, or '
                          'choose device cpu)')
    if warn is not None:
        warn(f'device {name!r} requested but CUDA is not available: running on the CPU (slow)')
    return 'cpu'


def cuda_available() -> bool:
    """torch.cuda.is_available(), importing torch only where it can be true, so that a node
    running a compiled backend on a CPU never loads torch: False without importing it when torch
    is not installed or is a build without CUDA and ROCm (its version.py says so)."""
    if 'torch' not in sys.modules and not _torch_gpu_build():
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _torch_gpu_build() -> bool:
    """False only for an installed torch whose version.py names neither CUDA nor ROCm (HIP);
    True when that cannot be read (then torch itself is asked)."""
    try:
        build = Path(str(distribution('torch').locate_file('torch/version.py'))).read_text()
    except (PackageNotFoundError, OSError):
        return True
    return not all(re.search(rf'^{name}\b[^=\n]*=\s*None\s*$', build, re.MULTILINE)
                   for name in ('cuda', 'hip'))
