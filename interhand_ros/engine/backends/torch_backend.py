"""torch backend: the reference. Runs the folded InterNet eagerly on the CPU or CUDA, with
autocast for bf16 / fp16, optionally torch.compile'd (frozen weights) or captured as a CUDA graph.

The heatmaps are decoded on the device, so only B x 42 x 4 numbers come back to the host; a
hand's heatmap branch (28 % of the FLOPs each) runs only for the crops in which that hand is
present, except under CUDA graph capture, which needs fixed shapes.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from interhand_ros.engine.backends.base import BackendOptions, Decoded
from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.decoding import decode_heatmaps, root_bins_to_metres
from interhand_ros.engine.model import InterNet, fold_batchnorm
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE

NAME = 'torch'
TORCH_DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def version() -> str:
    return torch.__version__


def native_precisions(device_type: str = 'cpu') -> tuple[str, ...]:
    """CUDA has kernels for every float precision; on the CPU fp32 plus what oneDNN runs
    natively (bf16: AVX-512 BF16 / AMX, fp16: AVX-512 FP16 / AMX-FP16)."""
    if device_type != 'cpu':
        return tuple(TORCH_DTYPES)
    precisions = ['fp32']
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        precisions.append('bf16')
    if torch.ops.mkldnn._is_mkldnn_fp16_supported():
        precisions.append('fp16')
    return tuple(precisions)


def open_backend(checkpoint: Path, options: BackendOptions) -> TorchBackend:
    """The folded network of `checkpoint` on options.device (CheckpointError if unreadable)."""
    return TorchBackend(fold_batchnorm(load_internet(checkpoint)), options)


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


class TorchBackend:
    """The folded network on one device at one precision."""

    name = NAME
    model_dir: Path | None = None

    def __init__(self, model: InterNet, options: BackendOptions) -> None:
        if options.threads:
            torch.set_num_threads(options.threads)  # process-wide: torch has no per-model count
        self.precision = options.precision
        self.refine = options.refine
        self.device = torch.device(options.device)
        channels_last = (self.device.type == 'cuda' if options.channels_last is None
                         else options.channels_last)
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device)
        self.model = self.model.to(memory_format=self._memory_format)  # type: ignore[call-overload]
        self._use_graph = options.cuda_graph and self.device.type == 'cuda'
        branches = [HeatmapBranch(self.model, side) for side in (0, 1)]
        self._backbone: Callable[[torch.Tensor], torch.Tensor] = self.model.backbone_net
        self._branches: list[Callable[[torch.Tensor], torch.Tensor]] = list(branches)
        if options.compile:
            self._backbone = compile_module(self.model.backbone_net)
            self._branches = [compile_module(branch) for branch in branches]
        self._graphs: dict[int, Callable[[torch.Tensor], tuple[torch.Tensor, ...]]] = {}

    def _forward_decoded(self, images: torch.Tensor, presence_threshold: float | None
                         ) -> tuple[torch.Tensor, ...]:
        """Forward + decoding on the device: (crop_xy, depth_rel, confidence, root_m, presence).

        presence_threshold: run a hand's heatmap branch only for the crops in which that hand is
        present; the joints of an absent hand are never published, so this is exact. None (for
        CUDA graph capture, which needs fixed shapes): every branch on every crop.
        """
        autocast = torch.autocast(self.device.type, dtype=TORCH_DTYPES[self.precision],
                                  enabled=self.precision != 'fp32', cache_enabled=False)
        with autocast:
            features = self._backbone(images)
            root_bins, presence = self.model.pose_net.global_heads(features)
        batch = images.shape[0]
        crop_xy = torch.full((batch, NUM_MODEL_JOINTS, 2), math.nan, device=images.device)
        depth_rel = torch.full((batch, NUM_MODEL_JOINTS), math.nan, device=images.device)
        confidence = torch.zeros((batch, NUM_MODEL_JOINTS), device=images.device)
        for side, joints in enumerate((RIGHT_SLICE, LEFT_SLICE)):
            rows: slice | torch.Tensor = slice(None)  # static indexing for graph capture
            if presence_threshold is not None:
                present = (presence[:, side] >= presence_threshold).nonzero()[:, 0]
                if present.numel() == 0:
                    continue
                rows = present
            with autocast:
                heatmaps = self._branches[side](features[rows])
            decoded = decode_heatmaps(heatmaps, self.refine)
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
                    self._forward_decoded(static_in, None)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode():
                static_out = self._forward_decoded(static_in, None)

            def replay(images: torch.Tensor) -> tuple[torch.Tensor, ...]:
                static_in.copy_(images)
                graph.replay()
                return static_out

            self._graphs[batch] = replay
        return self._graphs[batch]

    def infer(self, crops: np.ndarray, presence_threshold: float) -> Decoded:
        images = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        images = images.permute(0, 3, 1, 2).float().div_(255.0)
        images = images.contiguous(memory_format=self._memory_format)
        with torch.inference_mode():
            if self._use_graph:
                outputs = self._graphed(images.shape[0])(images)
            else:
                outputs = self._forward_decoded(images, presence_threshold)
            crop_xy, depth_rel, confidence, root_m, presence = (t.cpu().numpy() for t in outputs)
        return crop_xy, depth_rel, confidence, root_m, presence
