"""Backend name -> the module that implements it: the one list every entry point reads.

Adding a backend is one module (base.BackendModule's three functions; a backend running converted
models also names its CONVERTER module, base.CompiledModule, which builds them and, when it
quantizes, its build_quantized) and one line in BACKENDS. The node's `backend` choices,
interhand-run's and interhand-quantize's flags, 'auto', the benchmark's cases and the model cache
keys all come from here. Modules are imported by name only when their backend is used, so this
list (and the node's parameter table built from it) costs no import of torch or of any backend
library.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import cast, overload

import numpy as np

from interhand_ros.engine.backends.base import (
    Backend,
    BackendError,
    BackendModule,
    BackendOptions,
    CompiledModule,
    ConverterModule,
    ModelWriter,
    cache_key,
    cpu_isa,
)

AUTO = 'auto'


@dataclass(frozen=True)
class BackendEntry:
    """Where a backend lives and what it needs; `auto_rank` orders 'auto' (lowest first: the
    fastest exact backend, measured in benchmarks/README.md)."""

    module: str                            # python module implementing base.BackendModule
    requires: str | None = None            # python package it needs (None: always installed)
    auto_rank: int = 100
    devices: tuple[str, ...] = ('cpu',)    # torch device types it runs on
    quantizes: tuple[str, ...] = ()        # precisions interhand-quantize builds for it


_PACKAGE = 'interhand_ros.engine.backends'
# 'auto' on a CPU: OpenVINO, else torch, else ONNX Runtime (its fp32 gains nothing dependable
# over torch's: benchmarks/README.md); on CUDA torch, the only CUDA backend.
BACKENDS: dict[str, BackendEntry] = {
    'torch': BackendEntry(f'{_PACKAGE}.torch_backend', requires='torch', auto_rank=1,
                          devices=('cpu', 'cuda')),
    'openvino': BackendEntry(f'{_PACKAGE}.openvino_backend', requires='openvino', auto_rank=0,
                             quantizes=('int8', 'bf16')),
    'onnxruntime': BackendEntry(f'{_PACKAGE}.onnx_backend', requires='onnxruntime',
                                auto_rank=2, quantizes=('int8',)),
}


class BackendChoices(Sequence[str]):
    """The registered names and 'auto', read from BACKENDS at each use (a live view, so the
    parameter table, CLI choices and settings checks built from it at import see every entry)."""

    def _names(self) -> tuple[str, ...]:
        return (*BACKENDS, AUTO)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


def entry(name: str) -> BackendEntry:
    if name not in BACKENDS:
        raise BackendError(f'backend must be one of {BackendChoices()}, got {name!r}')
    return BACKENDS[name]


def installed(name: str) -> bool:
    package = entry(name).requires
    return package is None or importlib.util.find_spec(package) is not None


def load(name: str) -> BackendModule:
    """The backend's module; BackendError saying what to install when its package is absent."""
    found = entry(name)
    if not installed(name):
        others = ' or '.join(repr(other) for other in BACKENDS if other != name and
                             installed(other)) or 'another backend'
        raise BackendError(
            f'backend {name!r} needs the python package {found.requires!r}, which is not '
            f'installed (pip install -r requirements.txt, or choose {others})')
    module: ModuleType = importlib.import_module(found.module)
    return cast(BackendModule, module)


def native_precisions(name: str, device_type: str = 'cpu') -> tuple[str, ...]:
    """Precisions `name` runs with native kernels on this machine's `device_type`."""
    return load(name).native_precisions(device_type)


def check_precision(name: str, precision: str, device_type: str = 'cpu') -> None:
    """BackendError unless `name` runs `precision` natively on this machine's `device_type`."""
    supported = native_precisions(name, device_type)
    if precision not in supported:
        where = f'this CPU (ISA {cpu_isa()}; ' if device_type == 'cpu' else f'{device_type} ('
        raise BackendError(
            f'{precision} with backend {name!r} has no native kernels on {where}this backend '
            f'runs {", ".join(supported)} here) and would run far slower than fp32 or not at '
            'all; choose one of those')


def auto_order(device_type: str) -> list[str]:
    """The backends 'auto' tries on `device_type`, fastest exact first."""
    return sorted((name for name, found in BACKENDS.items() if device_type in found.devices),
                  key=lambda name: BACKENDS[name].auto_rank)


def choose_backend(name: str, precision: str, device_type: str) -> str:
    """Resolve 'auto': the first installed backend of auto_order(device_type) that runs
    `precision` natively; any other name is checked against the device and returned."""
    if name != AUTO:
        if device_type not in entry(name).devices:
            raise BackendError(
                f'backend {name!r} runs on {" / ".join(entry(name).devices)} only, not on '
                f'{device_type!r}; choose one of {auto_order(device_type)}')
        return name
    for candidate in auto_order(device_type):
        if installed(candidate) and precision in native_precisions(candidate, device_type):
            return candidate
    raise BackendError(f'no installed backend runs {precision} natively on {device_type} '
                       f'(ISA {cpu_isa()}); use fp32')


def open_backend(name: str, checkpoint: str | Path, options: BackendOptions) -> Backend:
    """InterNet of `checkpoint` run by backend `name` (not 'auto': choose_backend first)."""
    module = load(name)
    check_precision(name, options.precision, options.device.split(':')[0])
    return module.open_backend(Path(checkpoint), options)


def quantizable() -> tuple[str, ...]:
    """The backends interhand-quantize builds models for."""
    return tuple(name for name, found in BACKENDS.items() if found.quantizes)


def stored_model_key(name: str, checkpoint_hash: str, precision: str,
                     refine: bool) -> dict[str, object]:
    """The model cache key under which backend `name` stores and loads its model of a
    checkpoint at `precision` (int8: the one interhand-quantize built)."""
    return cache_key(checkpoint_hash, name, load(name).version(), precision, refine)


def build_quantized(name: str, fp32: Backend, calibration: np.ndarray, precision: str,
                    options: BackendOptions, presence_threshold: float, scratch: Path
                    ) -> tuple[Backend, ModelWriter | None]:
    """Backend `name`'s model at `precision` calibrated on `calibration` crops (see
    base.QuantizingModule.build_quantized); BackendError when it builds no such model."""
    if precision not in entry(name).quantizes:
        offered = ', '.join(entry(name).quantizes) or 'nothing'
        raise BackendError(f'interhand-quantize builds {offered} for backend {name!r}, '
                           f'not {precision}')
    converter = cast(CompiledModule, load(name)).CONVERTER
    module = cast(ConverterModule, importlib.import_module(converter))
    return module.build_quantized(fp32, calibration, precision, options, presence_threshold,
                                  scratch)
