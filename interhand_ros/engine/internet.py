"""InterNet estimator: image + calibrated camera (+ depth) -> metric two-hand 3D pose.

crop (official squaring x1.25, affine to 256 x 256) -> network + decoding on the device (only
B x 42 x 4 numbers come back) -> crop pixels to original pixels (T_inv) -> absolute root depth
(depth image | hand-size prior | fixed) -> back-projection with the camera -> wrist orientation.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from interhand_ros.engine.checkpoint import CheckpointError, load_internet
from interhand_ros.engine.decoding import decode_heatmaps, root_bins_to_metres
from interhand_ros.engine.model import INPUT_SIZE, InterNet, fold_batchnorm
from interhand_ros.engine.options import (
    BACKENDS,
    DEPTH_MODES,
    PRECISIONS,
    check_device_name,
    resolve_device,
)
from interhand_ros.engine.runtimes import (
    Runtime,
    check_precision,
    choose_backend,
    open_runtime,
    run_parts,
)
from interhand_ros.estimate import (
    Box,
    DepthSource,
    EstimatorKind,
    HandEstimate,
    TwoHandEstimate,
    check_rgb_image,
)
from interhand_ros.geometry.camera import CameraModel, rays_to_camera
from interhand_ros.geometry.crop import (
    apply_affine,
    crop_image,
    crop_transform,
    square_and_enlarge,
)
from interhand_ros.geometry.root_depth import (
    DepthImage,
    root_depth_from_depth_image,
    root_depth_from_hand_size,
)
from interhand_ros.geometry.wrist_frame import wrist_quaternion
from interhand_ros.skeleton import (
    LEFT,
    LEFT_SLICE,
    NUM_MODEL_JOINTS,
    RIGHT,
    RIGHT_SLICE,
    SIDES,
    WRIST,
    split_model_joints,
)

TORCH_DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
_DEPTH_WINDOW_FRACTION = 0.02  # depth sampling window radius, fraction of the crop side


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


class HeatmapBranch(torch.nn.Module):
    """One hand's heatmap head as a module of its own, so it can be compiled separately."""

    def __init__(self, model: InterNet, side: int) -> None:
        super().__init__()
        self.pose_net = model.pose_net
        self.side = side

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.pose_net.hand_heatmaps(features, self.side)


def compile_module(module: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """torch.compile with inductor weight freezing (constant-folded, prepacked oneDNN weights).

    Measured on the 2-core AVX2 EPYC: 37-44 % less CPU time per forward than eager, after a
    25-100 s compilation on the first call of each batch size.
    """
    return torch.compile(module, options={'freezing': True})


class InterNetEstimator:
    """HandPoseEstimator running InterNet; raises CheckpointError for a missing/bad checkpoint."""

    def __init__(self, checkpoint_path: str | Path,
                 config: EngineConfig = EngineConfig()) -> None:
        self.config = config
        self.device = torch.device(resolve_device(config.device))
        self.backend = choose_backend(config.backend, config.precision, self.device.type)
        self.precision = config.precision
        if self.device.type == 'cpu' or self.precision not in TORCH_DTYPES:
            # (CUDA has kernels for every float precision)
            check_precision(self.backend, config.precision)
        self.runtime: Runtime | None = None
        if self.backend != 'torch':
            self._open_runtime(checkpoint_path)
            return
        channels_last = (self.device.type == 'cuda' if config.channels_last is None
                         else config.channels_last)
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = fold_batchnorm(load_internet(checkpoint_path)).to(self.device)
        self.model = self.model.to(memory_format=self._memory_format)  # type: ignore[call-overload]
        self._use_graph = config.cuda_graph and self.device.type == 'cuda'
        branches = [HeatmapBranch(self.model, side) for side in (0, 1)]
        self._backbone: Callable[[torch.Tensor], torch.Tensor] = self.model.backbone_net
        self._branches: list[Callable[[torch.Tensor], torch.Tensor]] = list(branches)
        if config.compile:
            self._backbone = compile_module(self.model.backbone_net)
            self._branches = [compile_module(branch) for branch in branches]
        self._graphs: dict[int, Callable[[torch.Tensor], tuple[torch.Tensor, ...]]] = {}

    def _open_runtime(self, checkpoint_path: str | Path) -> None:
        """A compiled runtime from the model cache; the torch weights are loaded only when the
        cache has no trusted model to convert, and are not kept (the runtime has its own)."""
        if self.config.compile or self.config.cuda_graph:
            raise ValueError(f'compile and cuda_graph are torch options; backend '
                             f'{self.backend!r} compiles its own model')
        if not Path(checkpoint_path).is_file():
            raise CheckpointError(f'checkpoint not found: {checkpoint_path}')
        self.runtime = open_runtime(
            self.backend, self.precision, lambda: fold_batchnorm(load_internet(checkpoint_path)),
            checkpoint_path, self.config.cache_dir, self.config.threads, self.config.refine)

    # -- network ---------------------------------------------------------------------------

    def _forward_decoded(self, images: torch.Tensor, skip_absent: bool = True
                         ) -> tuple[torch.Tensor, ...]:
        """Forward + decoding on the device: (crop_xy, depth_rel, confidence, root_m, presence).

        skip_absent: run a hand's heatmap branch (28 % of the FLOPs each) only for the crops in
        which that hand is present; the joints of an absent hand are never published, so this is
        exact. Off for CUDA graph capture, which needs fixed shapes.
        """
        autocast = torch.autocast(self.device.type, dtype=TORCH_DTYPES[self.config.precision],
                                  enabled=self.config.precision != 'fp32', cache_enabled=False)
        with autocast:
            features = self._backbone(images)
            root_bins, presence = self.model.pose_net.global_heads(features)
        batch = images.shape[0]
        crop_xy = torch.full((batch, NUM_MODEL_JOINTS, 2), math.nan, device=images.device)
        depth_rel = torch.full((batch, NUM_MODEL_JOINTS), math.nan, device=images.device)
        confidence = torch.zeros((batch, NUM_MODEL_JOINTS), device=images.device)
        for side, joints in enumerate((RIGHT_SLICE, LEFT_SLICE)):
            rows: slice | torch.Tensor = slice(None)  # static indexing for graph capture
            if skip_absent:
                present = (presence[:, side] >= self.config.presence_threshold).nonzero()[:, 0]
                if present.numel() == 0:
                    continue
                rows = present
            with autocast:
                heatmaps = self._branches[side](features[rows])
            decoded = decode_heatmaps(heatmaps, self.config.refine)
            crop_xy[rows, joints] = decoded.crop_xy
            depth_rel[rows, joints] = decoded.depth_rel_m
            confidence[rows, joints] = decoded.confidence
        return crop_xy, depth_rel, confidence, root_bins_to_metres(root_bins), presence.float()

    def _graphed(self, batch: int) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
        """A CUDA graph of _forward_decoded for this batch size (captured once, replayed)."""
        if batch not in self._graphs:
            static_in = torch.zeros(batch, 3, INPUT_SIZE, INPUT_SIZE, device=self.device
                                    ).contiguous(memory_format=self._memory_format)
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream), torch.inference_mode():
                for _ in range(3):
                    self._forward_decoded(static_in, skip_absent=False)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode():
                static_out = self._forward_decoded(static_in, skip_absent=False)

            def replay(images: torch.Tensor) -> tuple[torch.Tensor, ...]:
                static_in.copy_(images)
                graph.replay()
                return static_out

            self._graphs[batch] = replay
        return self._graphs[batch]

    def describe(self) -> dict[str, str]:
        """What runs, for diagnostics and logs: backend, precision, device, model file."""
        model_dir = self.runtime.model_dir if self.runtime is not None else None
        return {'backend': self.backend, 'precision': self.precision,
                'device': str(self.device), 'model_cache': str(model_dir or '')}

    def infer(self, crops: np.ndarray) -> list[NetworkResult]:
        """Run the network on B x 256 x 256 x 3 uint8 RGB crops."""
        if self.runtime is not None:
            return network_results(run_parts(self.runtime, crops,
                                             self.config.presence_threshold))
        images = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        images = images.permute(0, 3, 1, 2).float().div_(255.0)
        images = images.contiguous(memory_format=self._memory_format)
        with torch.inference_mode():
            if self._use_graph:
                outputs = self._graphed(images.shape[0])(images)
            else:
                outputs = self._forward_decoded(images)
            return network_results(tuple(t.cpu().numpy() for t in outputs))

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
        estimates = [lift_two_hands(result, inverse, camera, depth, self.config, box)
                     for result, box, inverse, camera, depth
                     in zip(results, boxes, inverses, image_cameras, depths)]
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
                   depth: DepthImage | None, config: EngineConfig,
                   crop_box: Box) -> TwoHandEstimate:
    """Decoded network output of one crop -> TwoHandEstimate in metres and original pixels.

    The left root follows the paper: right root + predicted relative root depth when the right
    hand is present; otherwise the left hand's own estimate.
    """
    pixels = split_model_joints(apply_affine(crop_inverse, result.crop_xy))
    depth_rel = split_model_joints(result.depth_rel_m)
    confidence = split_model_joints(result.confidence)
    detected = {side: bool(result.presence[index] >= config.presence_threshold)
                for index, side in enumerate(SIDES)}
    rays = {side: camera.pixel_rays(pixels[side]) for side in detected if detected[side]}
    window = max(1, int(round(_DEPTH_WINDOW_FRACTION * crop_box.w)))
    roots: dict[str, tuple[float | None, DepthSource]] = {}
    for side in SIDES:
        if not detected[side]:
            roots[side] = (None, DepthSource.NONE)
        elif side == LEFT and (right_root := roots[RIGHT][0]) is not None:
            roots[side] = (right_root + result.relative_root_m, DepthSource.OTHER_HAND)
        else:
            roots[side] = _own_root_depth(pixels[side], rays[side], depth_rel[side], camera,
                                          depth, config, window)
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
        hands[side] = hand
    both = hands[RIGHT].valid[WRIST] and hands[LEFT].valid[WRIST]
    right_to_left = (hands[LEFT].wrist_position - hands[RIGHT].wrist_position if both
                     else np.full(3, np.nan))
    scene_source = next((hands[s].depth_source for s in SIDES
                         if hands[s].depth_source != DepthSource.NONE), DepthSource.NONE)
    return TwoHandEstimate(
        right=hands[RIGHT], left=hands[LEFT],
        relative_root_depth=float(result.relative_root_m),
        relative_root_depth_valid=detected[RIGHT] and detected[LEFT],
        right_to_left_root=right_to_left, depth_source=scene_source,
        estimator=EstimatorKind.INTERNET, roi=crop_box)


def _own_root_depth(pixels: np.ndarray, rays: np.ndarray, depth_rel: np.ndarray,
                    camera: CameraModel, depth: DepthImage | None, config: EngineConfig,
                    window: int) -> tuple[float | None, DepthSource]:
    """One hand's absolute root depth from the configured source (None if it has no answer).

    rays: camera.pixel_rays(pixels), undistorted once per hand by the caller."""
    if config.depth_mode == 'fixed':
        return config.fixed_depth_m, DepthSource.FIXED
    if config.depth_mode in ('auto', 'depth_image') and depth is not None:
        measured = root_depth_from_depth_image(depth, pixels, depth_rel,
                                               (camera.width, camera.height), window)
        if measured is not None:
            return measured, DepthSource.DEPTH_IMAGE
    if config.depth_mode == 'depth_image':
        return None, DepthSource.NONE
    estimated = root_depth_from_hand_size(rays, depth_rel, config.hand_scale)
    if estimated is None:
        return None, DepthSource.NONE
    return estimated, DepthSource.HAND_SIZE
