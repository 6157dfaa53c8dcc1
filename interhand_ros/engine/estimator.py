"""InterNet estimator: image + calibrated camera (+ depth) -> metric two-hand 3D pose.

crop (official squaring x1.25, affine to 256 x 256) -> network + decoding on the device (only
B x 42 x 4 numbers come back) -> crop pixels to original pixels (T_inv) -> absolute root depth
(depth image | hand-size prior | fixed) -> back-projection with the camera -> wrist orientation.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interhand_ros.engine.backends.base import Backend, BackendOptions
from interhand_ros.engine.backends.registry import choose_backend, open_backend
from interhand_ros.engine.options import (
    BACKENDS,
    DEPTH_MODES,
    PRECISIONS,
    check_device_name,
    resolve_device,
)
from interhand_ros.estimate import (
    DepthSource,
    EstimatorKind,
    HandEstimate,
    TwoHandEstimate,
    check_rgb_image,
)
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel, rays_to_camera
from interhand_ros.geometry.crop import (
    INPUT_SIZE,
    apply_affine,
    crop_image,
    crop_transform,
    square_and_enlarge,
)
from interhand_ros.geometry.hand_scale import HandScaleCalibrator
from interhand_ros.geometry.root_depth import (
    DEPTH_WINDOW_FRACTION,
    SURFACE_OFFSET_M,
    DepthImage,
    root_depth_from_depth_image,
    root_depth_from_hand_size,
    scale_at_depth,
)
from interhand_ros.geometry.wrist_frame import wrist_quaternion
from interhand_ros.skeleton import LEFT, RIGHT, SIDES, WRIST, split_model_joints


@dataclass(frozen=True)
class EngineConfig:
    """How the estimator runs. depth_mode 'auto': depth image when given, else hand size."""

    device: str = 'auto'                 # auto | cpu | cuda | cuda:N
    precision: str = 'fp32'              # fp32 | fp16 | bf16 | int8 (backend dependent)
    backend: str = 'torch'               # torch (reference) | openvino | onnxruntime | auto
    cache_dir: str | None = None      # compiled models; None: engine.cache.default_cache_dir
    threads: int = 0                     # compiled runtimes' CPU threads; 0: runtime default
    channels_last: bool | None = None  # None: on CUDA only (7 % slower on an AVX2 CPU)
    cuda_graph: bool = False             # capture the fixed-shape forward (CUDA only)
    presence_threshold: float = 0.5
    depth_mode: str = 'auto'
    fixed_depth_m: float | None = None  # required by depth_mode 'fixed', unused otherwise
    hand_scale: float = 1.0              # hand size relative to the mean adult hand
    surface_offset_m: float = SURFACE_OFFSET_M  # depth image: skin to joint, along the ray
    calibrate_hand_scale: bool = True    # each hand's scale from depth, for the prior
    refine: bool = False                 # sub-voxel refinement of the heatmap argmax
    compile: bool = False                # torch.compile (inductor, frozen weights); slow start

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(
                f'precision must be one of {tuple(PRECISIONS)}, got {self.precision!r}')
        if self.depth_mode not in DEPTH_MODES:
            raise ValueError(f'depth_mode must be one of {DEPTH_MODES}, got {self.depth_mode!r}')
        if self.depth_mode == 'fixed' and not (
                self.fixed_depth_m is not None and math.isfinite(self.fixed_depth_m)
                and self.fixed_depth_m > 0):
            raise ValueError("depth_mode 'fixed' needs a positive fixed_depth_m")
        if not 0.0 <= self.presence_threshold <= 1.0:
            raise ValueError(
                f'presence_threshold must be in [0, 1], got {self.presence_threshold}')
        if not (math.isfinite(self.hand_scale) and self.hand_scale > 0):
            raise ValueError(f'hand_scale must be positive, got {self.hand_scale}')
        if not (math.isfinite(self.surface_offset_m) and 0 <= self.surface_offset_m <= 0.1):
            raise ValueError(f'surface_offset_m must be in [0, 0.1] m, got {self.surface_offset_m}')
        if self.compile and self.cuda_graph:
            raise ValueError('compile and cuda_graph cannot be combined: use one of them')
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {self.backend!r}')
        if self.threads < 0:
            raise ValueError(f'threads must be >= 0 (0 = runtime default), got {self.threads}')
        check_device_name(self.device)


@dataclass(frozen=True)
class NetworkResult:
    """Decoded network output of one crop (host arrays, InterNet's 42-joint order)."""

    crop_xy: np.ndarray        # (42, 2) crop pixels
    depth_rel_m: np.ndarray    # (42,) metres relative to the joint's own hand root
    confidence: np.ndarray     # (42,) 0..1
    relative_root_m: float     # left root depth minus right root depth, metres
    presence: np.ndarray       # (2,) [right, left]


class InterNetEstimator:
    """HandPoseEstimator running InterNet; raises CheckpointError for a missing/bad checkpoint."""

    finds_hands = False  # InterNet sees one crop: the roi source decides where the hands are

    def __init__(self, checkpoint_path: str | Path,
                 config: EngineConfig = EngineConfig()) -> None:
        self.config = config
        self.hand_scales = HandScaleCalibrator()  # this estimator's user, from depth
        self.device = resolve_device(config.device)  # a torch device name; no torch imported
        self._backend: Backend | None = open_backend(
            choose_backend(config.backend, config.precision, self.device.split(':')[0]),
            checkpoint_path,
            BackendOptions(precision=config.precision, device=self.device,
                           cache_dir=config.cache_dir, threads=config.threads,
                           refine=config.refine, channels_last=config.channels_last,
                           cuda_graph=config.cuda_graph, compile=config.compile))

    @property
    def backend(self) -> Backend:
        """The runtime running the network; RuntimeError once the estimator is closed."""
        if self._backend is None:
            raise RuntimeError('this InterNet estimator was closed')
        return self._backend

    def details(self) -> dict[str, str]:
        """What runs, field by field: backend, precision, device, model cache folder."""
        return {'backend': self.backend.name, 'precision': self.backend.precision,
                'device': str(self.device), 'model_cache': str(self.backend.model_dir or '')}

    def describe(self) -> str:
        """One line naming what runs (see HandPoseEstimator); says what 'auto' chose."""
        text = f'InterNet {self.backend.name} {self.backend.precision} on {self.device}'
        return text + (' (backend auto)' if self.config.backend == 'auto' else '')

    def close(self) -> None:
        """Drop the backend: its weights and compiled model go with the last reference (the
        node then empties torch's CUDA cache)."""
        self._backend = None

    def infer(self, crops: np.ndarray) -> list[NetworkResult]:
        """Run the network on B x 256 x 256 x 3 uint8 RGB crops."""
        return network_results(self.backend.infer(crops, self.config.presence_threshold))

    def warmup(self, batch_size: int = 1) -> None:
        """Run the network once so the first real frame does not pay for allocation/capture."""
        self.infer(np.zeros((batch_size, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8))

    # -- full pipeline ------------------------------------------------------------------------

    def estimate(self, image_rgb: np.ndarray, camera: CameraModel, roi: Box | None = None,
                 depth: DepthImage | None = None) -> TwoHandEstimate:
        """Estimate both hands in an RGB uint8 (H, W, 3) image (see HandPoseEstimator)."""
        return self.estimate_batch([image_rgb], [camera], [roi], [depth])[0]

    def estimate_batch(self, images_rgb: Sequence[np.ndarray],
                       cameras: Sequence[CameraModel],
                       rois: Sequence[Box | None] | None = None,
                       depths: Sequence[DepthImage | None] | None = None
                       ) -> list[TwoHandEstimate]:
        """Several images (or several rois of one image) in one network batch."""
        start = time.perf_counter()
        count = len(images_rgb)
        rois = list(rois) if rois is not None else [None] * count
        depths = list(depths) if depths is not None else [None] * count
        if count == 0 or not len(cameras) == len(rois) == len(depths) == count:
            raise ValueError('estimate_batch needs one camera, roi and depth entry per image')
        patches, boxes, inverses, image_cameras = [], [], [], []
        for image, camera, roi in zip(images_rgb, cameras, rois):
            patch, box, inverse = network_crop(image, roi)
            patches.append(patch)
            boxes.append(box)
            inverses.append(inverse)
            image_cameras.append(camera.for_image(image.shape[1], image.shape[0]))
        results = self.infer(np.stack(patches))
        calibrated = self.hand_scales.scales() if self.config.calibrate_hand_scale else {}
        estimates = [lift_two_hands(result, inverse, camera, depth, self.config, box, calibrated)
                     for result, box, inverse, camera, depth
                     in zip(results, boxes, inverses, image_cameras, depths)]
        if self.config.calibrate_hand_scale:
            for estimate in estimates:
                self.hand_scales.update(estimate.hands())
        per_image = (time.perf_counter() - start) / count
        for estimate in estimates:
            estimate.inference_time = per_image
        return estimates


def network_results(outputs: tuple[np.ndarray, ...]) -> list[NetworkResult]:
    """Per-crop results of the batch arrays (crop_xy, depth_rel, confidence, root_m, presence),
    converted to float64 once for the batch."""
    crop_xy, depth_rel, confidence, root_m, presence = (
        np.asarray(array, dtype=np.float64) for array in outputs)
    return [NetworkResult(crop_xy[i], depth_rel[i], confidence[i], float(root_m[i]), presence[i])
            for i in range(crop_xy.shape[0])]


def network_crop(image_rgb: np.ndarray, roi: Box | None
                 ) -> tuple[np.ndarray, Box, np.ndarray]:
    """The network's 256 x 256 input for a roi of the image (None: the whole image), as the
    estimator makes it: (patch, squared and enlarged box, crop-to-image affine)."""
    height, width = check_rgb_image(image_rgb)
    box = square_and_enlarge(roi if roi is not None else Box(0.0, 0.0, width, height))
    transform, inverse = crop_transform(box)
    return crop_image(image_rgb, transform), box, inverse


def lift_two_hands(result: NetworkResult, crop_inverse: np.ndarray, camera: CameraModel,
                   depth: DepthImage | None, config: EngineConfig, crop_box: Box,
                   calibrated: Mapping[str, float] | None = None) -> TwoHandEstimate:
    """Decoded network output of one crop -> TwoHandEstimate in metres and original pixels.

    Each hand's root, in order: its own depth-image measurement; the hand-size prior at its
    self-calibrated scale (calibrated: side -> scale); the other hand's root + the predicted
    relative root depth (the paper's way: OTHER_HAND); its own configured source (fixed
    distance or the prior at hand_scale). depth_image mode without a depth image: no roots.
    """
    pixels = split_model_joints(apply_affine(crop_inverse, result.crop_xy))
    depth_rel = split_model_joints(result.depth_rel_m)
    confidence = split_model_joints(result.confidence)
    detected = {side: bool(result.presence[index] >= config.presence_threshold)
                for index, side in enumerate(SIDES)}
    rays = {side: camera.pixel_rays(pixels[side]) for side in detected if detected[side]}
    window = max(1, int(round(DEPTH_WINDOW_FRACTION * crop_box.w)))
    measured = {side: _measured_root_depth(pixels[side], rays[side], depth_rel[side], camera,
                                           depth, config, window) for side in rays}
    calibrated = calibrated or {}
    roots: dict[str, tuple[float | None, DepthSource]] = {}
    for side, other in ((RIGHT, LEFT), (LEFT, RIGHT)):
        other_root = roots[other][0] if other in roots else measured.get(other)
        if not detected[side] or (config.depth_mode == 'depth_image' and depth is None):
            roots[side] = (None, DepthSource.NONE)
        elif measured[side] is not None:
            roots[side] = (measured[side], DepthSource.DEPTH_IMAGE)
        elif side in calibrated and (prior := root_depth_from_hand_size(
                rays[side], depth_rel[side], calibrated[side])) is not None:
            roots[side] = (prior, DepthSource.HAND_SIZE)
        elif other_root is not None:
            sign = 1.0 if side == LEFT else -1.0  # relative_root_m: left minus right
            roots[side] = (other_root + sign * result.relative_root_m, DepthSource.OTHER_HAND)
        else:
            roots[side] = _own_root_depth(rays[side], depth_rel[side], config)
    hands = {}
    for index, side in enumerate(SIDES):
        hand = HandEstimate(side=side, presence=float(result.presence[index]),
                            detected=detected[side])
        root, source = roots[side]
        if root is not None:
            hand.joints = rays_to_camera(rays[side], root + depth_rel[side])
            hand.pixels = pixels[side]
            hand.confidence = confidence[side]
            hand.valid = np.all(np.isfinite(hand.joints), axis=1) & np.all(
                np.isfinite(hand.pixels), axis=1)
            hand.wrist_position = hand.joints[WRIST].copy()
            quaternion = wrist_quaternion(hand.joints, side)
            if quaternion is not None:
                hand.wrist_quaternion = quaternion
            hand.depth_source = source
            if source == DepthSource.DEPTH_IMAGE:
                hand.measured_scale = scale_at_depth(rays[side], depth_rel[side], root) or math.nan
        hands[side] = hand
    both = hands[RIGHT].valid[WRIST] and hands[LEFT].valid[WRIST]
    right_to_left = (hands[LEFT].wrist_position - hands[RIGHT].wrist_position if both
                     else np.full(3, np.nan))
    scene_source = next((hands[s].depth_source for s in SIDES
                         if hands[s].depth_source != DepthSource.NONE), DepthSource.NONE)
    right_m, left_m = measured.get(RIGHT), measured.get(LEFT)  # both measured: compare
    return TwoHandEstimate(
        right=hands[RIGHT], left=hands[LEFT],
        relative_root_depth=float(result.relative_root_m),
        relative_root_depth_valid=detected[RIGHT] and detected[LEFT],
        right_to_left_root=right_to_left, depth_source=scene_source,
        estimator=EstimatorKind.INTERNET, roi=crop_box,
        root_depth_disagreement=(left_m - right_m - result.relative_root_m
                                 if left_m is not None and right_m is not None else math.nan))


def _measured_root_depth(pixels: np.ndarray, rays: np.ndarray, depth_rel: np.ndarray,
                         camera: CameraModel, depth: DepthImage | None, config: EngineConfig,
                         window: int) -> float | None:
    """One hand's root depth from the depth image (None: no depth mode, image or valid data).

    rays: camera.pixel_rays(pixels), undistorted once per hand by the caller."""
    if depth is None or config.depth_mode not in ('auto', 'depth_image'):
        return None
    return root_depth_from_depth_image(
        depth, pixels, depth_rel, (camera.width, camera.height), window, rays=rays,
        surface_offset_m=config.surface_offset_m)


def _own_root_depth(rays: np.ndarray, depth_rel: np.ndarray,
                    config: EngineConfig) -> tuple[float | None, DepthSource]:
    """A hand's root depth without a measurement: the fixed distance or the hand-size prior."""
    if config.depth_mode == 'fixed':
        return config.fixed_depth_m, DepthSource.FIXED
    estimated = root_depth_from_hand_size(rays, depth_rel, config.hand_scale)
    if estimated is None:
        return None, DepthSource.NONE
    return estimated, DepthSource.HAND_SIZE
