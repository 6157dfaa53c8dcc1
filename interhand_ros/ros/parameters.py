"""The node's parameters: one table of names, defaults, units and meaning.

config/hands.yaml repeats these defaults (a test keeps them equal) and docs/node.md documents
them. Names with dots group related settings (YAML nesting).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from interhand_ros.factory import EstimatorSettings


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    description: str
    read_only: bool = True


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('checkpoint', '',
                  'InterNet checkpoint (official snapshot_20.pth.tar or our training output); '
                  "'' = MediaPipe landmark fallback"),
    ParameterSpec('device', 'auto',
                  "torch device: 'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'"),
    ParameterSpec('cuda_fallback', True,
                  'CUDA requested but absent: true = warn and run on CPU, false = fail at start'),
    ParameterSpec('precision', 'fp32', "network precision: 'fp32', 'fp16' or 'bf16' (CUDA)"),
    ParameterSpec('refine', False, 'sub-voxel refinement of the heatmap argmax'),
    ParameterSpec('cuda_graph', False, 'capture the network forward as a CUDA graph (CUDA only)'),
    ParameterSpec('compile', False,
                  'torch.compile the network with frozen weights: no measurable gain on an idle '
                  '2-core AVX2 CPU (benchmarks/README.md), 15-100 s longer start'),
    ParameterSpec('threads', 0, 'torch CPU threads; 0 = torch default (one per core)'),
    ParameterSpec('presence_threshold', 0.5, 'hand-presence probability (0..1) to report a hand'),
    ParameterSpec('rectified', False,
                  'the image is rectified: use CameraInfo P instead of K and D'),
    ParameterSpec('sync', 'approximate',
                  "image/camera_info pairing: 'approximate', 'exact' or 'latest'"),
    ParameterSpec('sync_slop', 0.02, 's, largest stamp difference paired (approximate)'),
    ParameterSpec('sync_queue_size', 5, 'messages kept per stream while pairing'),
    ParameterSpec('max_info_age', 0.0,
                  "s, 'latest' mode: largest image/camera_info stamp difference; 0 = any"),
    ParameterSpec('depth.mode', 'hand_size',
                  "absolute hand depth: 'hand_size' (bone lengths vs a mean adult hand), "
                  "'depth_image' (subscribe to depth + depth_info, registered to the colour "
                  "image, REP-118) or 'fixed' (depth.fixed_distance)"),
    ParameterSpec('depth.fixed_distance', 0.5, "m, wrist distance for depth.mode 'fixed'"),
    ParameterSpec('depth.hand_scale', 1.0,
                  "hand size relative to the mean adult hand, for depth.mode 'hand_size'"),
    ParameterSpec('roi.mode', 'full', "crop source: 'full', 'fixed', 'track', 'topic', 'detector'"),
    ParameterSpec('roi.fixed', [0.0, 0.0, 0.0, 0.0], "px, [x, y, w, h] for roi.mode 'fixed'"),
    ParameterSpec('roi.track_scale', 1.5, "joint box growth per axis for roi.mode 'track'"),
    ParameterSpec('roi.track_smoothing', 0.5, "weight (0..1] of the newest box in 'track' mode"),
    ParameterSpec('roi.topic_max_age', 0.5, "s, an ROI topic box older than this is ignored"),
    ParameterSpec('roi.detector_min_confidence', 0.5,
                  "MediaPipe detection confidence for roi.mode 'detector'"),
    ParameterSpec('roi.detect_every', 10,
                  "frames; roi.mode 'detector' re-runs the detector at least this often and "
                  'tracks the joints in between (at once when the hands are lost)'),
    ParameterSpec('publish_markers', True, 'publish hands/markers (only while subscribed)'),
    ParameterSpec('publish_debug_image', True,
                  'publish hands/debug_image (only while subscribed)'),
    ParameterSpec('markers.lifetime', 0.3, 's, markers vanish this long after the last update'),
    ParameterSpec('markers.joint_diameter', 0.012, 'm, joint sphere diameter'),
    ParameterSpec('markers.bone_width', 0.006, 'm, bone line width'),
    ParameterSpec('markers.wrist_axes', False,
                  'also draw each wrist frame (x red, y green, z blue)'),
    ParameterSpec('diagnostics_period', 1.0, 's, /diagnostics publishing period'),
    ParameterSpec('log_throttle', 2.0, 's, the same kind of bad-input warning is logged at most '
                                       'once per this period'),
    ParameterSpec('backend', 'torch', "network runtime: torch, openvino, onnxruntime or auto"),
)

DEFAULTS: dict[str, Any] = {spec.name: spec.default for spec in PARAMETERS}


def estimator_settings(params: Mapping[str, Any]) -> EstimatorSettings:
    """The factory's settings from the node's parameter values (by the names above)."""
    return EstimatorSettings(
        checkpoint=params['checkpoint'], device=params['device'],
        cuda_fallback=params['cuda_fallback'], precision=params['precision'],
        backend=params['backend'],
        threads=params['threads'], cuda_graph=params['cuda_graph'], compile=params['compile'],
        refine=params['refine'], presence_threshold=params['presence_threshold'],
        depth_mode=params['depth.mode'], fixed_depth_m=params['depth.fixed_distance'],
        hand_scale=params['depth.hand_scale'], video=True)
