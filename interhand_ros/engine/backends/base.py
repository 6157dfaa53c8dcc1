"""What every backend provides, in a module of its own so that the backends and the registry
both import it and neither imports the other (the registry finds backend modules by name).

Importable without torch or any backend library: engine.options reads the registry, which reads
this, and the node's parameter table reads engine.options; the compiled backends build their
cache keys from it without torch.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

# The decoded batch a backend returns for B crops, host float arrays in InterNet's joint order:
# (crop_xy B x 42 x 2, depth_rel_m B x 42, confidence B x 42, root_m B, presence B x 2).
Decoded = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
ModelWriter = Callable[[Path], None]  # writes a model's files into a (cache) folder
# Bump when engine.parts' graphs change: invalidates every cached model. Kept here, beside the
# key it is part of, so that looking a model up in the cache needs no torch.
PARTS_VERSION = 2


class BackendError(ValueError):
    """A backend or precision this machine cannot run (not installed, no native kernels,
    no calibrated model), with what to do instead."""


@dataclass(frozen=True)
class BackendOptions:
    """What a backend is opened with (the estimator's EngineConfig, device resolved)."""

    precision: str = 'fp32'
    device: str = 'cpu'                 # a torch.device name: cpu | cuda | cuda:N
    cache_dir: str | None = None        # compiled models; None: engine.cache.default_cache_dir
    threads: int = 0                    # runtime's CPU threads (torch: process-wide); 0: default
    refine: bool = False                # sub-voxel refinement of the heatmap argmax
    channels_last: bool | None = None   # torch: None = on CUDA only
    cuda_graph: bool = False            # torch on CUDA: capture the fixed-shape forward
    compile: bool = False               # torch: torch.compile with frozen weights


class Backend(Protocol):
    """InterNet opened by a backend: crops in, decoded joints out (arrays it does not keep)."""

    name: str
    precision: str
    model_dir: Path | None   # model cache entry it runs (None: the checkpoint itself)

    def infer(self, crops: np.ndarray, presence_threshold: float) -> Decoded:
        """B x 256 x 256 x 3 uint8 RGB crops -> the decoded batch; a hand's joints are decoded
        only where its presence >= presence_threshold (else NaN, confidence 0)."""


class BackendModule(Protocol):
    """What a backend module (named in registry.BACKENDS) defines at module level."""

    def version(self) -> str:
        """The backend library's version: part of every cached model's key."""

    def native_precisions(self, device_type: str) -> tuple[str, ...]:
        """Precisions it runs with native kernels on this machine's `device_type` (cpu|cuda)."""

    def open_backend(self, checkpoint: Path, options: BackendOptions) -> Backend:
        """InterNet of `checkpoint`, ready to infer (CheckpointError / BackendError if not)."""


class CompiledModule(BackendModule, Protocol):
    """A backend module that runs models converted into the model cache (OpenVINO, ONNX
    Runtime). It imports no torch; CONVERTER names the module that converts a checkpoint and
    builds its quantized models (ConverterModule: torch, exporters, quantizers), imported by name
    only when a model must be built."""

    CONVERTER: str


class ConverterModule(Protocol):
    """A compiled backend's CONVERTER module."""

    def write_fp32(self, checkpoint: Path, folder: Path, refine: bool) -> None:
        """The fp32 model of `checkpoint` (weights loaded strictly) into a cache folder."""

    def build_quantized(self, fp32: Backend, calibration: np.ndarray, precision: str,
                        options: BackendOptions, presence_threshold: float, scratch: Path
                        ) -> tuple[Backend, ModelWriter | None]:
        """(candidate at `precision` calibrated on B x 256 x 256 x 3 uint8 crops, the writer of
        its model files; None when there is nothing to store). `fp32` is this backend's fp32
        model; `scratch` a folder the candidate may use while it lives."""


def cache_key(checkpoint_hash: str, backend: str, version: str, precision: str,
              refine: bool) -> dict[str, object]:
    """Everything a cached model depends on: the model cache's key (the on-disk field names
    'runtime' / 'runtime_version' are kept so caches built before stay valid)."""
    return {'checkpoint_sha256': checkpoint_hash, 'runtime': backend,
            'runtime_version': version, 'precision': precision, 'refine': refine,
            'parts_version': PARTS_VERSION}


def cpu_isa() -> str:
    """The CPU's vector ISA as torch names it (AVX512, AVX2 or DEFAULT), read from the CPU
    flags the kernel reports, so that choosing a compiled backend needs no torch."""
    try:
        flags = next((line.split(':', 1)[1].split() for line in
                      Path('/proc/cpuinfo').read_text().splitlines()
                      if line.startswith('flags')), [])
    except OSError:
        flags = []
    if {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'} <= set(flags):
        return 'AVX512'
    return 'AVX2' if {'avx2', 'fma'} <= set(flags) else 'DEFAULT'
