"""Every setting of the hands node, defined once: name, default, range, choices, meaning, whether
it may change while the node runs, and where it goes (the estimator's settings, a launch argument).

From this table the node declares its parameters (ros/parameters.py adds the ROS descriptors),
launch/hands.launch.py builds its parameter arguments and `interhand-run` its estimator flags;
config/hands.yaml and docs/node.md repeat the defaults for people to read and edit, and tests keep
them equal. Names with dots group related settings (YAML nesting). `runtime=True` marks the
settings that are safe to change while the node runs (they only change what the next frame or
message looks like); every other one is read when the node is configured and may change only while
it is unconfigured (lifecycle cleanup first), so a running model is never half-reconfigured.
No rclpy here: the launch file and the offline tools import this module too.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from interhand_ros.engine.options import BACKENDS, DEPTH_MODES, PRECISIONS
from interhand_ros.geometry.root_depth import SURFACE_OFFSET_M
from interhand_ros.processing.factory import EstimatorSettings
from interhand_ros.processing.roi import ROI_MODES

# image_transport transports the node subscribes with (ros/image_input.py).
TRANSPORTS: tuple[str, ...] = ('raw', 'compressed')
# image/camera_info pairings (processing/stamp_sync.py): the node's `sync`, interhand-run's --sync.
SYNC_MODES = ('approximate', 'exact', 'latest')
# The node subscribes to depth only when told to, so the engine's 'auto' is not offered.
NODE_DEPTH_MODES = tuple(mode for mode in DEPTH_MODES if mode != 'auto')
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None  # inclusive; int bounds for int parameters
    choices: Sequence[str] = ()  # backend: the registry's live list (engine.options)
    runtime: bool = False  # safe to change while configured (see the module docstring)
    setting: str = ''  # the EstimatorSettings field it sets ('' = none: the node's own)
    launch: bool = False  # an argument of hands.launch.py (launch_argument gives its name)


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('autostart', True,
                  'configure and activate at start (plain `ros2 run`); false = wait for a '
                  'lifecycle manager', launch=True),
    ParameterSpec('checkpoint', '',
                  'InterNet checkpoint (official snapshot_20.pth.tar or our training output); '
                  "'' = MediaPipe landmark fallback", setting='checkpoint', launch=True),
    ParameterSpec('device', 'auto',
                  "torch device: 'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'",
                  setting='device', launch=True),
    ParameterSpec('cuda_fallback', True,
                  'CUDA requested but absent: true = warn and run on CPU, false = fail at start',
                  setting='cuda_fallback'),
    ParameterSpec('precision', 'fp32',
                  "network precision: 'fp32', 'bf16', 'fp16' (where the hardware runs it "
                  "natively) or 'int8' (openvino or onnxruntime, after interhand-quantize)",
                  choices=PRECISIONS,
                  setting='precision', launch=True),
    ParameterSpec('backend', 'auto',
                  "network backend: 'auto' (the fastest exact one installed for the device: "
                  "on a CPU OpenVINO when installed, else torch; torch on CUDA; the log and "
                  "/diagnostics 'estimator' name the choice) or a backend of the registry "
                  "(engine/backends/registry.py: torch, openvino, onnxruntime)",
                  choices=BACKENDS, setting='backend', launch=True),
    ParameterSpec('cache_dir', '',
                  "compiled models of the openvino/onnxruntime backends; '' = "
                  '$INTERHAND_MODEL_CACHE or ~/.cache/interhand_ros/models', setting='cache_dir'),
    ParameterSpec('refine', False, 'sub-voxel refinement of the heatmap argmax', setting='refine'),
    ParameterSpec('cuda_graph', False, 'capture the network forward as a CUDA graph (CUDA only)',
                  setting='cuda_graph'),
    ParameterSpec('compile', False,
                  'torch.compile the network with frozen weights: no measurable gain on an idle '
                  '2-core AVX2 CPU (benchmarks/README.md), 15-100 s longer start',
                  setting='compile'),
    ParameterSpec('threads', 0, "CPU threads of the network (torch and every backend's runtime); "
                  "0 = the runtime's default (one per core)",
                  range=(0, 1024), setting='threads'),
    ParameterSpec('presence_threshold', 0.5, 'hand-presence probability (0..1) to report a hand',
                  range=(0.0, 1.0), runtime=True, setting='presence_threshold'),
    ParameterSpec('rectified', False,
                  'the image is rectified: use CameraInfo P instead of K and D', launch=True),
    ParameterSpec('image_transport', 'raw',
                  "'raw' = sensor_msgs/Image on image; 'compressed' = sensor_msgs/CompressedImage "
                  '(jpeg, png) on <image>/compressed', choices=TRANSPORTS, launch=True),
    ParameterSpec('max_image_pixels', 33_177_600,
                  'px, larger images are refused before conversion (memory stays bounded); '
                  'default 7680x4320', range=(1, INT_MAX), runtime=True),
    ParameterSpec('frame_grid.period', 0.0,
                  's, base period of the stamp grid shared by the cameras of a multi-camera rig '
                  '(1/camera fps): each node estimates the first frame of each slot, slots widen '
                  'in powers of two while the node is slower than its camera; 0 = the newest '
                  'frame wins', range=(0.0, 10.0), launch=True),
    ParameterSpec('sync', 'approximate',
                  "image/camera_info pairing: 'approximate', 'exact' or 'latest'",
                  choices=SYNC_MODES, launch=True),
    ParameterSpec('sync_slop', 0.02, 's, largest stamp difference paired (approximate)',
                  range=(0.0, 10.0)),
    ParameterSpec('sync_queue_size', 5, 'messages kept per stream while pairing',
                  range=(1, 1000)),
    ParameterSpec('max_info_age', 0.0,
                  "s, 'latest' mode: largest image/camera_info stamp difference; 0 = any",
                  range=(0.0, 3600.0)),
    ParameterSpec('depth.mode', 'hand_size',
                  "absolute hand depth: 'hand_size' (bone lengths vs a mean adult hand), "
                  "'depth_image' (subscribe to depth + depth_info, registered to the colour "
                  "image, REP-118) or 'fixed' (depth.fixed_distance)", choices=NODE_DEPTH_MODES,
                  setting='depth_mode', launch=True),
    ParameterSpec('depth.fixed_distance', 0.5, "m, wrist distance for depth.mode 'fixed'",
                  range=(0.01, 100.0), setting='fixed_depth_m'),
    ParameterSpec('depth.hand_scale', 1.0,
                  "hand size relative to the mean adult hand, for the hand-size prior (mode "
                  "'hand_size'; in 'depth_image' for a hand without valid depth that neither its "
                  "calibration nor the other hand's depth places); /diagnostics "
                  'hand_scale_right/left give a measured value',
                  range=(0.1, 10.0), setting='hand_scale'),
    ParameterSpec('depth.surface_offset', SURFACE_OFFSET_M,
                  "m, depth.mode 'depth_image': distance from the skin the depth camera sees to "
                  'the palm joints inside the hand, added along each joint\'s ray (default: '
                  'half the adult hand thickness at the knuckles, about 3 cm; docs/node.md)',
                  range=(0.0, 0.1), setting='surface_offset_m'),
    ParameterSpec('depth.calibrate_hand_scale', True,
                  "depth.mode 'depth_image': measure each hand's scale while its depth is valid "
                  '(running median) and use it for the hand-size prior when that hand\'s depth '
                  'is missing; false = the prior always uses depth.hand_scale',
                  setting='calibrate_hand_scale'),
    ParameterSpec('roi.mode', 'detector',
                  "roi source of InterNet: 'detector' (MediaPipe boxes, tracked between "
                  "detections), 'full', 'fixed', 'track', 'topic'; the landmark fallback finds "
                  "hands itself: 'detector' means the whole image there", choices=ROI_MODES,
                  launch=True),
    ParameterSpec('roi.fixed', [0.0, 0.0, 0.0, 0.0], "px, [x, y, w, h] for roi.mode 'fixed'"),
    ParameterSpec('roi.track_scale', 1.5, "joint box growth per axis for roi.mode 'track'",
                  range=(1.0, 10.0)),
    ParameterSpec('roi.track_smoothing', 0.5, "weight (0..1] of the newest box in 'track' mode",
                  range=(0.0, 1.0)),
    ParameterSpec('roi.topic_max_age', 0.5, "s, an ROI topic box older than this is ignored",
                  range=(0.0, 3600.0)),
    ParameterSpec('roi.detector_min_confidence', 0.5,
                  "MediaPipe detection confidence for roi.mode 'detector'", range=(0.0, 1.0)),
    ParameterSpec('roi.detect_every', 10,
                  "frames; roi.mode 'detector' re-runs the detector at least this often and "
                  'tracks the joints in between (at once when the hands are lost)',
                  range=(1, 100_000)),
    ParameterSpec('publish_markers', True, 'publish hands/markers (only while subscribed)',
                  runtime=True),
    ParameterSpec('publish_debug_image', True,
                  'publish hands/debug_image (only while subscribed)', runtime=True),
    ParameterSpec('markers.lifetime', 0.3, 's, markers vanish this long after the last update',
                  range=(0.0, 3600.0), runtime=True),
    ParameterSpec('markers.joint_diameter', 0.012, 'm, joint sphere diameter',
                  range=(0.0, 1.0), runtime=True),
    ParameterSpec('markers.bone_width', 0.006, 'm, bone line width', range=(0.0, 1.0),
                  runtime=True),
    ParameterSpec('markers.wrist_axes', False,
                  'also draw each wrist frame (x red, y green, z blue)', runtime=True),
    ParameterSpec('diagnostics_period', 1.0, 's, /diagnostics publishing period',
                  range=(0.01, 3600.0), runtime=True),
    ParameterSpec('stall_timeout', 5.0,
                  's without an image before /diagnostics warns that the camera stalled',
                  range=(0.01, 3600.0), runtime=True),
    ParameterSpec('log_throttle', 2.0, 's, the same kind of bad-input warning is logged at most '
                                       'once per this period', range=(0.0, 3600.0),
                  runtime=True),
    # Teleoperation (interhand_ros.teleop; docs/teleoperation.md).
    ParameterSpec('filter.enabled', True,
                  'One Euro filter on the joints in header-stamp time; false = publish the raw '
                  'poses (the raw ones are always on hands/raw)'),
    ParameterSpec('filter.min_cutoff', 0.5, 'Hz, cutoff of a still joint (lower: smoother)',
                  range=(0.001, 1000.0)),
    ParameterSpec('filter.beta', 8.0,
                  's/m, cutoff increase per m/s of joint speed (higher: less lag when moving)',
                  range=(0.0, 1000.0)),
    ParameterSpec('filter.d_cutoff', 1.0, 'Hz, cutoff of the joint speed estimate',
                  range=(0.001, 1000.0)),
    ParameterSpec('filter.hold_s', 0.2,
                  's, a lost hand is published as held (held=true) this long, then the filter '
                  'restarts', range=(0.0, 60.0)),
    ParameterSpec('identity.switch_frames', 5,
                  'landmark fallback: consecutive frames of the other handedness label before '
                  'a tracked hand changes side', range=(1, 1000)),
    ParameterSpec('identity.gate', 0.15,
                  'm, landmark fallback: a wrist this close to a side\'s last wrist continues '
                  'that side', range=(0.0, 10.0)),
    ParameterSpec('identity.max_gap', 0.5,
                  's, landmark fallback: a side\'s last wrist is forgotten after this',
                  range=(0.0, 60.0)),
    ParameterSpec('tf.publish', True,
                  'publish each fresh hand\'s wrist frame on /tf (child of the image frame)'),
    ParameterSpec('tf.prefix', '',
                  "prefix of the /tf child frames <prefix>right_wrist, <prefix>left_wrist"),
)

DEFAULTS: dict[str, Any] = {spec.name: spec.default for spec in PARAMETERS}
SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}


def launch_argument(spec: ParameterSpec) -> str:
    """The launch argument of a parameter: its name with '_' for '.' (roi.mode -> roi_mode)."""
    return spec.name.replace('.', '_')


def choice_problem(name: str, value: Any) -> str | None:
    """Why `value` is not one of the parameter's choices (None when it is, or has none)."""
    spec = SPECS.get(name)
    if spec is None or not spec.choices or value in spec.choices:
        return None
    return f'{name} must be one of {spec.choices}, got {value!r}'


def change_problem(name: str, value: Any, configured: bool) -> str | None:
    """Why a set-parameters request for one of our parameters is refused (None: accepted)."""
    spec = SPECS.get(name)
    if spec is None:
        return None
    if configured and not spec.runtime:
        return (f'{name} is read when the node is configured and cannot change while it is '
                'configured: deactivate and clean up the node (lifecycle), set it, configure '
                'again (or restart the node)')
    return choice_problem(name, value)


def estimator_settings(params: Mapping[str, Any]) -> EstimatorSettings:
    """The factory's settings from parameter values by name (each parameter's `setting` field
    says where it goes); the node passes its parameters, interhand-run its flags over DEFAULTS."""
    return EstimatorSettings(**{spec.setting: params[spec.name]
                                for spec in PARAMETERS if spec.setting})
