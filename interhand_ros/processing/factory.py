"""One way to build a hand-pose estimator, for every entry point.

The node, interhand-run, make demo (through the node), the latency probe and the benchmark all
turn their settings into an estimator here, so each runs the same engine with the same device
rule, thread count, backend, precision and warm-up. Without a checkpoint the MediaPipe landmark
fallback is built (and the caller is told so).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

from interhand_ros.engine.options import (
    BACKENDS,
    DEPTH_MODES,
    PRECISIONS,
    DeviceError,
    check_device_name,
    resolve_device,
)
from interhand_ros.estimate import HandPoseEstimator, no_checkpoint_message
from interhand_ros.geometry.root_depth import SURFACE_OFFSET_M


class EstimatorError(RuntimeError):
    """No estimator can be built from these settings; the message says why."""


@dataclass(frozen=True)
class EstimatorSettings:
    """Everything that decides which estimator runs and how (units: metres, seconds)."""

    checkpoint: str = ''                 # '' -> MediaPipe landmark fallback
    backend: str = 'auto'                # auto (fastest exact) | torch | openvino | onnxruntime
    cache_dir: str = ''                  # compiled models; '' -> engine.cache.default_cache_dir
    device: str = 'auto'                 # auto | cpu | cuda | cuda:N
    cuda_fallback: bool = True           # CUDA requested but absent: CPU (warned) or an error
    precision: str = 'fp32'
    threads: int = 0                     # CPU threads (torch and runtimes); 0 = their default
    cuda_graph: bool = False
    compile: bool = False
    refine: bool = False
    presence_threshold: float = 0.5
    depth_mode: str = 'auto'
    fixed_depth_m: float | None = None
    hand_scale: float = 1.0
    surface_offset_m: float = SURFACE_OFFSET_M  # depth image: skin to joint
    calibrate_hand_scale: bool = True    # each hand's scale from depth, for the prior
    video: bool = True                   # landmark fallback: track between frames
    mirrored: bool = False               # landmark fallback: selfie view
    warmup: bool = True

    def check(self) -> None:
        """Raise EstimatorError for a setting no estimator accepts (before anything loads)."""
        problems = []
        if self.backend not in BACKENDS:
            problems.append(f'backend must be one of {BACKENDS}, got {self.backend!r}')
        if self.precision not in PRECISIONS:
            problems.append(f'precision must be one of {PRECISIONS}, got {self.precision!r}')
        if self.depth_mode not in DEPTH_MODES:
            problems.append(f'depth mode must be one of {DEPTH_MODES}, got {self.depth_mode!r}')
        if self.threads < 0:
            problems.append(f'threads must be >= 0 (0 = the runtime default), got {self.threads}')
        try:
            check_device_name(self.device)
        except DeviceError as error:
            problems.append(str(error))
        if problems:
            raise EstimatorError('; '.join(problems))


_SETTINGS_FIELDS = frozenset(field.name for field in fields(EstimatorSettings))


def build_estimator(settings: EstimatorSettings,
                    warn: Callable[[str], None],
                    how_to_pass_checkpoint: str = 'pass a checkpoint',
                    info: Callable[[str], object] | None = None) -> HandPoseEstimator:
    """A ready (warmed-up) estimator; EstimatorError says why when none can be built.

    warn: where to say what the caller should know (fallback used, CUDA absent).
    info: where the model cache says that it converts a new checkpoint (about 20 s, before it
    starts) or reuses a cached model, and where it keeps it (default: warn).
    """
    settings.check()
    if not settings.checkpoint:
        warn(no_checkpoint_message(how_to_pass_checkpoint))
        return _landmark_estimator(settings)
    with _cache_messages_to(info or warn):
        return _internet_estimator(settings, warn)


class _Forward(logging.Handler):
    def __init__(self, say: Callable[[str], object]) -> None:
        super().__init__(logging.INFO)
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        self._say(record.getMessage())


@contextmanager
def _cache_messages_to(say: Callable[[str], object]) -> Iterator[None]:
    """The model cache's log records (engine.cache) go to `say` while the estimator builds."""
    from interhand_ros.engine.cache import log as cache_log
    handler, level = _Forward(say), cache_log.level
    cache_log.addHandler(handler)
    cache_log.setLevel(logging.INFO)
    try:
        yield
    finally:
        cache_log.removeHandler(handler)
        cache_log.setLevel(level)


def _landmark_estimator(settings: EstimatorSettings) -> HandPoseEstimator:
    try:
        from interhand_ros.landmarks.landmark_estimator import LandmarkEstimator
    except ImportError as error:
        raise EstimatorError(f'the landmark fallback is unavailable: {error}') from error
    return LandmarkEstimator(min_confidence=settings.presence_threshold,
                             mirrored=settings.mirrored, video=settings.video)


def _internet_estimator(settings: EstimatorSettings,
                        warn: Callable[[str], None]) -> HandPoseEstimator:
    from interhand_ros.engine.checkpoint_file import CheckpointError
    from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
    try:
        device = resolve_device(settings.device, settings.cuda_fallback, warn)
        # The engine's settings are the fields of the same name (one source, no copy by hand);
        # only the device is resolved here and an empty cache_dir means the default folder.
        shared = {field.name: getattr(settings, field.name) for field in fields(EngineConfig)
                  if field.name in _SETTINGS_FIELDS}
        config = EngineConfig(**{**shared, 'device': device,
                                 'cache_dir': settings.cache_dir or None})
    except ValueError as error:
        raise EstimatorError(str(error)) from error
    try:
        estimator = InterNetEstimator(settings.checkpoint, config)
    except (CheckpointError, OSError) as error:
        raise EstimatorError(f'cannot load checkpoint {settings.checkpoint!r}: {error}') from error
    except ValueError as error:  # a backend or precision this machine cannot run
        raise EstimatorError(str(error)) from error
    except RuntimeError as error:  # a runtime that fails to convert or compile the model
        raise EstimatorError(f'backend {settings.backend!r} cannot run this model: {error}'
                             ) from error
    if settings.warmup:
        estimator.warmup()  # the first real frame should not pay for allocations
    return estimator
