"""InterNetEstimator end to end on the CPU: construction errors, output structure, batching,
precision / memory-format paths, equality with the plain (unfolded) network; CUDA paths skip."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from test_engine_roundtrip import (
    make_scene,
    perfect_network_output,
    pinhole,
    quantization_bound,
)

from interhand_ros.engine.checkpoint import (
    CheckpointError,
    expected_state_dict_shapes,
    load_internet,
)
from interhand_ros.engine.decoding import decode_heatmaps, root_bins_to_metres
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.estimate import DepthSource, EstimatorKind, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel, rays_to_camera
from interhand_ros.geometry.crop import crop_image, crop_transform, square_and_enlarge
from interhand_ros.skeleton import NUM_JOINTS, SIDES, WRIST

DEMO_IMAGE = Path(__file__).parents[1] / '..' / 'shared' / 'data' / 'interhand_demo' / 'input.jpg'
DEMO_BOX = Box(69, 137, 165, 153)
_SMALL = 200_000  # tensors up to this size are fully random, larger ones broadcast a random row


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """Random weights, small on disk: big tensors are broadcast views of one random row."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in expected_state_dict_shapes().items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(0)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        elif key.endswith(('running_mean', 'bias')):
            state[key] = 0.1 * torch.randn(shape, generator=generator)
        elif int(np.prod(shape)) <= _SMALL:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=generator) / fan_in ** 0.5
        else:
            fan_in = int(np.prod(shape[1:]))
            row = torch.randn(shape[1:], generator=generator) / fan_in ** 0.5
            state[key] = row.expand(shape)
    path = tmp_path_factory.mktemp('ckpt') / 'random.pth'
    torch.save({'network': state}, path)
    return path


@pytest.fixture(scope='module')
def estimator(checkpoint) -> InterNetEstimator:
    return InterNetEstimator(checkpoint, EngineConfig(device='cpu', presence_threshold=0.0,
                                                      depth_mode='fixed', fixed_depth_m=0.6))


@pytest.fixture(scope='module')
def demo_image() -> np.ndarray:
    import cv2
    if not DEMO_IMAGE.is_file():
        pytest.skip(f'demo image not found at {DEMO_IMAGE}')
    return cv2.cvtColor(cv2.imread(str(DEMO_IMAGE)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope='module')
def demo_crop(demo_image) -> np.ndarray:
    """The official crop of the demo box, batch of one."""
    transform, _ = crop_transform(square_and_enlarge(DEMO_BOX))
    return crop_image(demo_image, transform)[None]


@pytest.fixture(scope='module')
def reference(estimator, demo_crop):
    """The default estimator's network result on the demo crop."""
    return estimator.infer(demo_crop)[0]


def demo_camera() -> CameraModel:
    return CameraModel.from_intrinsics(np.array([[1200.0, 0, 166.5], [0, 1200.0, 255.5],
                                                 [0, 0, 1]]), 334, 512)


def test_missing_or_wrong_checkpoint_raises_at_construction(tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        InterNetEstimator(tmp_path / 'absent.pth')
    torch.save({'network': {'fc.weight': torch.zeros(2, 2)}}, tmp_path / 'other.pth')
    with pytest.raises(CheckpointError, match='unexpected keys: fc.weight'):
        InterNetEstimator(tmp_path / 'other.pth')


@pytest.mark.parametrize('kwargs', [dict(precision='int4'), dict(backend='tensorrt'),
                                    dict(depth_mode='guess'),
                                    dict(depth_mode='fixed'), dict(fixed_depth_m=-1.0,
                                                                   depth_mode='fixed'),
                                    dict(presence_threshold=1.5), dict(hand_scale=0.0),
                                    dict(device='tpu'), dict(compile=True, cuda_graph=True)])
def test_bad_config_values_are_rejected(kwargs):
    with pytest.raises(ValueError):
        EngineConfig(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-CUDA error')
def test_cuda_device_without_cuda_is_a_clear_error(checkpoint):
    with pytest.raises(ValueError, match='CUDA is not available'):
        InterNetEstimator(checkpoint, EngineConfig(device='cuda'))


def test_estimate_fills_every_field(estimator, demo_image, reference):
    estimate = estimator.estimate(demo_image, demo_camera(), roi=DEMO_BOX)
    assert isinstance(estimate, TwoHandEstimate)
    assert estimate.estimator == EstimatorKind.INTERNET
    assert estimate.roi == Box(48.375, 110.375, 206.25, 206.25)
    assert estimate.inference_time > 0
    for hand in estimate.hands():
        assert 0.0 <= hand.presence <= 1.0 and hand.detected
        assert hand.joints.shape == (NUM_JOINTS, 3) and np.isfinite(hand.joints).all()
        assert hand.valid.all() and ((hand.confidence >= 0) & (hand.confidence <= 1)).all()
        box = estimate.roi  # every decoded pixel lies inside the crop's box
        assert (hand.pixels[:, 0] >= box.x - 1e-6).all()
        assert (hand.pixels[:, 0] < box.x + box.w).all()
        np.testing.assert_array_equal(hand.wrist_position, hand.joints[WRIST])
        assert np.isclose(np.linalg.norm(hand.wrist_quaternion), 1.0)
    # official lifting: Z_j = root depth + z_rel_j for every joint (the wrist's own z_rel too)
    right_rel, left_rel = reference.depth_rel_m[20], reference.depth_rel_m[41]
    assert estimate.right.depth_source == DepthSource.FIXED
    assert estimate.right.joints[WRIST, 2] == pytest.approx(0.6 + right_rel)
    assert estimate.left.depth_source == DepthSource.OTHER_HAND
    assert estimate.left.joints[WRIST, 2] == pytest.approx(
        0.6 + estimate.relative_root_depth + left_rel)


def test_engine_equals_the_plain_network_and_official_decoding(reference, checkpoint, demo_crop):
    """Folded BN + per-branch decoding == strict-loaded InterNet forward + argmax, to rounding."""
    engine_result = reference
    plain = load_internet(checkpoint)
    images = torch.from_numpy(demo_crop).permute(0, 3, 1, 2).float() / 255.0
    with torch.inference_mode():
        output = plain(images)
    decoded = decode_heatmaps(output.heatmaps)
    pixel_error = np.abs(engine_result.crop_xy - decoded.crop_xy[0].numpy())
    assert np.mean(pixel_error == 0) > 0.9  # argmax ties may move a few near-flat joints
    np.testing.assert_allclose(engine_result.presence, output.hand_presence[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(engine_result.relative_root_m,
                               float(root_bins_to_metres(output.root_depth_bins[0])), atol=1e-4)


def test_batch_equals_single_images(estimator, demo_image):
    camera = demo_camera()
    flipped = np.ascontiguousarray(demo_image[:, ::-1])
    batch = estimator.estimate_batch([flipped, demo_image], [camera, camera], [None, DEMO_BOX])
    single = [estimator.estimate(flipped, camera),
              estimator.estimate(demo_image, camera, DEMO_BOX)]
    for together, alone in zip(batch, single):
        assert together.roi == alone.roi
        for a, b in zip(together.hands(), alone.hands()):
            assert a.presence == pytest.approx(b.presence, abs=1e-4)
            np.testing.assert_allclose(a.pixels, b.pixels, atol=1e-3)


@pytest.mark.parametrize('bad', [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32),
                                 np.zeros((0, 10, 3), np.uint8), 'not an image'])
def test_bad_images_raise_clear_errors(estimator, bad):
    with pytest.raises(ValueError, match='RGB uint8'):
        estimator.estimate(bad, demo_camera())


def test_mismatched_batch_lists_are_rejected(estimator, demo_image):
    with pytest.raises(ValueError, match='one camera'):
        estimator.estimate_batch([demo_image, demo_image], [demo_camera()])


@pytest.mark.parametrize('kwargs', [dict(channels_last=True), dict(refine=True)])
def test_cpu_layout_and_refinement_paths_agree_with_the_default(checkpoint, reference, demo_crop,
                                                                kwargs):
    other = InterNetEstimator(checkpoint, EngineConfig(device='cpu', **kwargs))
    result = other.infer(demo_crop)[0]
    np.testing.assert_allclose(result.presence, reference.presence, atol=1e-4)
    np.testing.assert_allclose(result.relative_root_m, reference.relative_root_m, atol=1e-4)
    # refinement moves each coordinate by at most half a voxel (2 crop pixels)
    limit = 2.0 + 1e-4 if kwargs.get('refine') else 1e-4
    assert np.abs(result.crop_xy - reference.crop_xy).max() <= limit


_NATIVE_CPU = {'bf16': torch.ops.mkldnn._is_mkldnn_bf16_supported(),
               'fp16': torch.ops.mkldnn._is_mkldnn_fp16_supported()}


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_cpu_reduced_precision_runs_where_native_and_is_refused_elsewhere(checkpoint, reference,
                                                                          demo_crop, precision):
    config = EngineConfig(device='cpu', precision=precision)
    if not _NATIVE_CPU[precision]:
        with pytest.raises(ValueError, match='no native kernels'):
            InterNetEstimator(checkpoint, config)
        return
    result = InterNetEstimator(checkpoint, config).infer(demo_crop)[0]
    np.testing.assert_allclose(result.presence, reference.presence, atol=0.05)
    assert np.isfinite(result.crop_xy).all() and np.isfinite(result.depth_rel_m).all()


def test_resized_image_through_the_estimator(estimator, monkeypatch):
    """Calibrated at 1280 x 960, the image arrives at 640 x 480: the engine scales K itself."""
    rng = np.random.default_rng(21)
    camera = pinhole(1280, 960, focal=1100.0)

    def halve(uv):
        return (uv + 0.5) / 2.0 - 0.5  # cv2.resize geometry, pixel centres kept

    scene = make_scene(rng, camera, root_depth=0.6, pixel_map=halve)
    shift = 0.6 - scene.right[WRIST, 2]  # put the right root exactly at the fixed depth
    for side in SIDES:
        joints = getattr(scene, side)
        setattr(scene, side,
                rays_to_camera(camera.pixel_rays(camera.camera_to_pixel(joints)),
                               joints[:, 2] + shift))
    result, _, box = perfect_network_output(scene, pixel_map=halve)
    monkeypatch.setattr(estimator, 'infer', lambda crops: [result] * len(crops))
    estimate = estimator.estimate(np.zeros((480, 640, 3), dtype=np.uint8), camera, roi=scene.box)
    assert estimate.roi == box
    half = camera.scaled_to(640, 480)
    for hand, truth in ((estimate.right, scene.right), (estimate.left, scene.left)):
        error = np.linalg.norm(hand.joints - truth, axis=1)
        assert np.all(error <= quantization_bound(truth, half, box)), error.max()


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


@cuda
@pytest.mark.parametrize('kwargs', [dict(), dict(precision='fp16'), dict(precision='bf16'),
                                    dict(cuda_graph=True),
                                    dict(cuda_graph=True, precision='fp16')])
def test_cuda_paths_agree_with_the_cpu(checkpoint, reference, demo_crop, kwargs):
    gpu = InterNetEstimator(checkpoint, EngineConfig(device='cuda', **kwargs))
    gpu.warmup()
    for _ in range(2):  # a captured graph must replay with new data correctly
        result = gpu.infer(demo_crop)[0]
        np.testing.assert_allclose(result.presence, reference.presence, atol=0.05)
    other = gpu.infer(np.ascontiguousarray(demo_crop[:, ::-1]))[0]
    assert not np.allclose(other.presence, result.presence, atol=1e-6)


def test_absent_hand_branch_is_skipped_and_present_hand_unchanged(checkpoint, reference,
                                                                   demo_crop):
    """With a threshold between the two presences only one branch runs; its joints are exact."""
    low, high = sorted(reference.presence)
    assert high - low > 1e-3, 'random weights gave equal presences; pick another seed'
    config = EngineConfig(device='cpu', presence_threshold=(low + high) / 2)
    result = InterNetEstimator(checkpoint, config).infer(demo_crop)[0]
    present = int(np.argmax(reference.presence))
    joints = slice(21 * present, 21 * present + 21)
    absent = slice(21 * (1 - present), 21 * (1 - present) + 21)
    np.testing.assert_allclose(result.crop_xy[joints], reference.crop_xy[joints], atol=1e-4)
    np.testing.assert_allclose(result.depth_rel_m[joints], reference.depth_rel_m[joints],
                               atol=1e-6)
    assert np.isnan(result.crop_xy[absent]).all() and (result.confidence[absent] == 0).all()


def _dynamo_only(module: torch.nn.Module):
    """torch.compile's graph capture without inductor's (minutes-long on 2 cores) codegen."""
    return torch.compile(module, backend='eager')


def test_compiled_forward_wiring_matches_eager(checkpoint, reference, demo_crop, monkeypatch):
    import interhand_ros.engine.backends.torch_backend as engine
    monkeypatch.setattr(engine, 'compile_module', _dynamo_only)
    compiled = InterNetEstimator(checkpoint, EngineConfig(device='cpu', compile=True))
    result = compiled.infer(demo_crop)[0]
    np.testing.assert_allclose(result.crop_xy, reference.crop_xy, atol=1e-4)
    np.testing.assert_allclose(result.presence, reference.presence, atol=1e-5)


@pytest.mark.skipif(os.environ.get('INTERHAND_SLOW_TESTS') != '1',
                    reason='inductor compilation takes minutes on 2 cores; '
                           'set INTERHAND_SLOW_TESTS=1 to run it')
def test_inductor_compiled_forward_matches_eager(checkpoint, reference, demo_crop):
    compiled = InterNetEstimator(checkpoint, EngineConfig(device='cpu', compile=True))
    result = compiled.infer(demo_crop)[0]
    assert np.mean(np.abs(result.crop_xy - reference.crop_xy) < 1e-3) > 0.9  # argmax near-ties
    np.testing.assert_allclose(result.presence, reference.presence, atol=1e-4)
