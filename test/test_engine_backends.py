"""Compiled backends behind the one estimator: OpenVINO (and ONNX Runtime) give the decoded
joints of torch fp32 on the same crops; cached models are reused, and rebuilt when corrupt or
stale; a missing runtime or a precision without native kernels is refused clearly.

Random weights make the heatmaps nearly flat, so two runtimes that differ only by float
rounding may pick different voxels among near-equal maxima. The sound check is therefore:
the voxel a backend picks holds, in torch's own fp32 heatmap, a value within rounding of that
heatmap's maximum (it is an argmax of torch's heatmap to rounding), and most voxels are equal.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from interhand_ros.engine.backends import openvino_backend, openvino_convert, registry
from interhand_ros.engine.cache import MANIFEST, ModelCache, file_sha256
from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.decoding import metres_to_depth_bins
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.engine.model import HEATMAP_SIZE, InterNet, fold_batchnorm
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.processing.factory import EstimatorError, EstimatorSettings, build_estimator
from interhand_ros.skeleton import LEFT_SLICE, RIGHT_SLICE, SIDES

_ROUNDING = 1e-4      # relative to the heatmap's value range: fp32 rounding across runtimes
_MOSTLY_EQUAL = 0.9   # fraction of joints whose voxel must be identical


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A full random InterNet whose heatmap convs have no bias. With the random per-depth bias
    the maximum of each joint lies in one depth slice whose spatial values differ by ~1e-4 of
    the range (ties everywhere); without it the top voxels differ by 3e-4 to 4e-2 of the range,
    far above fp32 rounding, so equal voxels are a meaningful check."""
    torch.manual_seed(0)
    model = InterNet()
    for conv in (model.pose_net.joint_conv_1[0], model.pose_net.joint_conv_2[0]):
        torch.nn.init.zeros_(conv.bias)
    path = tmp_path_factory.mktemp('ckpt') / 'random_internet.pth'
    torch.save({'network': model.state_dict()}, path)
    return path


@pytest.fixture(scope='module')
def crops() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (3, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)


@pytest.fixture(scope='module')
def reference(checkpoint):
    return InterNetEstimator(checkpoint, EngineConfig(device='cpu', presence_threshold=0.0))


@pytest.fixture(scope='module')
def torch_heatmaps(checkpoint, crops) -> np.ndarray:
    """torch fp32 heatmaps of the folded model, B x 42 x 64^3 (right hand's joints first)."""
    model = fold_batchnorm(load_internet(checkpoint))
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    with torch.inference_mode():
        features = model.backbone_net(images)
        return torch.cat([model.pose_net.hand_heatmaps(features, side) for side in (0, 1)],
                         dim=1).numpy()


def voxels_of(result) -> np.ndarray:
    """The (x, y, z) heatmap voxel of each joint of a NetworkResult (integers; the runtimes'
    metres differ in the last float bit because they order the affine arithmetic differently)."""
    xy = result.crop_xy * HEATMAP_SIZE / INPUT_SIZE
    z = metres_to_depth_bins(torch.from_numpy(result.depth_rel_m)).numpy()
    return np.rint(np.c_[xy, z]).astype(int)


def assert_same_decoded_joints(results, expected, heatmaps: np.ndarray) -> None:
    """results equal expected to rounding: each chosen voxel is an argmax of torch's heatmap."""
    equal = total = 0
    for result, wanted, volumes in zip(results, expected, heatmaps):
        voxels = voxels_of(result)
        for joint, volume in enumerate(volumes):
            x, y, z = voxels[joint]
            picked = volume[z, y, x]
            tolerance = _ROUNDING * float(volume.max() - volume.min())
            assert volume.max() - picked <= tolerance, f'joint {joint}: not an argmax'
        assert np.allclose(result.confidence, wanted.confidence, atol=1e-5)
        assert np.allclose(result.presence, wanted.presence, atol=1e-5)
        assert result.relative_root_m == pytest.approx(wanted.relative_root_m, abs=1e-6)
        same = np.all(voxels == voxels_of(wanted), axis=1)
        equal += int(same.sum())
        total += same.size
    assert equal >= _MOSTLY_EQUAL * total, f'only {equal} of {total} voxels equal'


@pytest.fixture(scope='module')
def openvino_cache(tmp_path_factory):
    pytest.importorskip('openvino')
    return tmp_path_factory.mktemp('models')


@pytest.fixture(scope='module')
def openvino_fp32(checkpoint, openvino_cache):
    return InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', presence_threshold=0.0, backend='openvino', cache_dir=str(openvino_cache)))


def test_openvino_fp32_gives_the_decoded_joints_of_torch_fp32(openvino_fp32, reference, crops,
                                                              torch_heatmaps):
    assert openvino_fp32.details()['backend'] == 'openvino'
    assert openvino_fp32.details()['precision'] == 'fp32'
    assert_same_decoded_joints(openvino_fp32.infer(crops), reference.infer(crops),
                               torch_heatmaps)


def test_openvino_runs_both_hands_together_with_the_sequential_outputs(openvino_fp32, crops,
                                                                     monkeypatch):
    """Both hands present: their requests run at once (run_hands), exactly as one by one."""
    from interhand_ros.engine.backends.compiled import PartsBackend
    together = openvino_fp32.backend.infer(crops, 0.0)
    monkeypatch.setattr(openvino_backend.OpenVinoBackend, 'run_hands', PartsBackend.run_hands)
    one_by_one = openvino_fp32.backend.infer(crops, 0.0)
    assert np.isfinite(together[0]).all()  # both hands' parts ran on every crop
    for ours, theirs in zip(together, one_by_one):
        np.testing.assert_array_equal(ours, theirs)


def test_openvino_skips_an_absent_hand_like_torch(checkpoint, openvino_cache, crops):
    """With a threshold between the two hands' presence only the likelier hand is decoded."""
    probe = InterNetEstimator(checkpoint, EngineConfig(device='cpu', presence_threshold=0.0))
    presence = probe.infer(crops[:1])[0].presence
    threshold = float(presence.mean())
    config = EngineConfig(device='cpu', presence_threshold=threshold)
    reference = InterNetEstimator(checkpoint, config).infer(crops[:1])[0]
    compiled = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', presence_threshold=threshold, backend='openvino',
        cache_dir=str(openvino_cache))).infer(crops[:1])[0]
    absent = LEFT_SLICE if presence[0] > presence[1] else RIGHT_SLICE
    assert np.isnan(compiled.crop_xy[absent]).all() and np.isnan(reference.crop_xy[absent]).all()
    assert np.isfinite(compiled.crop_xy).sum() == np.isfinite(reference.crop_xy).sum() == 42


def test_openvino_full_pipeline_matches_torch(openvino_fp32, reference):
    """estimate(): the same lifted joints (metres) on a 640x480 image."""
    from interhand_ros.geometry.box import Box
    from interhand_ros.geometry.camera import CameraModel
    image = np.random.default_rng(1).integers(0, 256, (480, 640, 3), np.uint8)
    camera = CameraModel.from_intrinsics(np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]]),
                                         640, 480)
    box = Box(200, 120, 220, 200)
    ours, theirs = openvino_fp32.estimate(image, camera, box), reference.estimate(image, camera,
                                                                                  box)
    for side in SIDES:
        a, b = getattr(ours, side), getattr(theirs, side)
        assert a.detected == b.detected
        same = np.all(np.isclose(a.joints, b.joints, atol=1e-5, equal_nan=True), axis=1)
        assert same.mean() >= _MOSTLY_EQUAL


def test_cached_model_is_reused_not_rebuilt(checkpoint, openvino_cache, openvino_fp32,
                                            monkeypatch):
    def no_conversion(*args, **kwargs):
        raise AssertionError('the cached model should have been loaded')
    monkeypatch.setattr(openvino_convert, 'convert_parts', no_conversion)
    again = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', backend='openvino', cache_dir=str(openvino_cache)))
    assert again.details()['model_cache'] == openvino_fp32.details()['model_cache']


def test_corrupt_cached_model_is_rebuilt(checkpoint, openvino_cache, openvino_fp32, reference,
                                         crops, torch_heatmaps):
    entry = openvino_fp32.backend.model_dir
    weights = entry / 'global.bin'
    data = bytearray(weights.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4096] = bytes(4096)  # zeroed weights, same size
    weights.write_bytes(bytes(data))
    rebuilt = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', presence_threshold=0.0, backend='openvino',
        cache_dir=str(openvino_cache)))
    assert ModelCache(openvino_cache).load(
        registry.stored_model_key('openvino', file_sha256(checkpoint), 'fp32', False)) == entry
    assert_same_decoded_joints(rebuilt.infer(crops), reference.infer(crops), torch_heatmaps)


def test_cache_entry_trusted_only_with_matching_key_and_files(tmp_path):
    cache = ModelCache(tmp_path)
    key = {'runtime': 'r', 'precision': 'fp32', 'checkpoint_sha256': 'a'}
    entry = cache.store(key, lambda folder: (folder / 'model.bin').write_bytes(b'weights'))
    assert cache.load(key) == entry
    stale = dict(key, runtime_version='newer')
    assert cache.load(stale) is None                      # other runtime version: other entry
    assert cache.entry_dir(stale) != entry
    (entry / 'model.bin').write_bytes(b'weightz')         # corrupt
    assert cache.load(key) is None
    entry = cache.store(key, lambda folder: (folder / 'model.bin').write_bytes(b'weights'))
    assert cache.load(key) == entry
    (entry / MANIFEST).write_text('{not json')
    assert cache.load(key) is None


def test_failed_cache_write_leaves_no_entry(tmp_path):
    cache = ModelCache(tmp_path)
    key = {'runtime': 'r', 'precision': 'fp32'}

    def broken(folder):
        (folder / 'half.bin').write_bytes(b'x')
        raise RuntimeError('conversion failed')
    with pytest.raises(RuntimeError):
        cache.store(key, broken)
    assert cache.load(key) is None
    assert list(tmp_path.iterdir()) == []


def test_stale_runtime_version_builds_a_new_entry(checkpoint, openvino_cache, openvino_fp32,
                                                  monkeypatch):
    monkeypatch.setattr(openvino_backend, 'version', lambda: '0.0.0-older')
    converted = []
    real = openvino_convert.convert_parts
    monkeypatch.setattr(openvino_convert, 'convert_parts',
                        lambda *args: converted.append(1) or real(*args))
    other = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', backend='openvino', cache_dir=str(openvino_cache)))
    assert converted == [1]
    assert other.backend.model_dir != openvino_fp32.backend.model_dir


def test_openvino_bf16_runs_where_native_and_is_refused_elsewhere(checkpoint, openvino_cache,
                                                                  reference, crops):
    config = EngineConfig(device='cpu', presence_threshold=0.0, backend='openvino',
                          precision='bf16', cache_dir=str(openvino_cache))
    if 'bf16' not in openvino_backend.native_precisions('cpu'):
        with pytest.raises(ValueError, match='no native kernels'):
            InterNetEstimator(checkpoint, config)
        return
    results = InterNetEstimator(checkpoint, config).infer(crops)
    for result, wanted in zip(results, reference.infer(crops)):
        assert np.isfinite(result.crop_xy).all()
        assert np.allclose(result.presence, wanted.presence, atol=0.05)  # bf16 rounding


def test_precision_without_native_kernels_is_refused(checkpoint, openvino_cache):
    pytest.importorskip('openvino')
    missing = [p for p in ('bf16', 'fp16') if p not in openvino_backend.native_precisions('cpu')]
    if not missing:
        pytest.skip('this CPU runs every reduced precision natively in OpenVINO')
    settings = EstimatorSettings(checkpoint=str(checkpoint), backend='openvino', device='cpu',
                                 precision=missing[0], cache_dir=str(openvino_cache))
    with pytest.raises(EstimatorError, match=f'{missing[0]} .*no native kernels'):
        build_estimator(settings, warn=lambda message: None)


def test_int8_without_a_calibrated_model_says_how_to_build_one(checkpoint, tmp_path):
    pytest.importorskip('openvino')
    if 'int8' not in openvino_backend.native_precisions('cpu'):
        pytest.skip('no native int8 in OpenVINO on this CPU')
    settings = EstimatorSettings(checkpoint=str(checkpoint), backend='openvino', device='cpu',
                                 precision='int8', cache_dir=str(tmp_path))
    with pytest.raises(EstimatorError, match='interhand-quantize'):
        build_estimator(settings, warn=lambda message: None)


def test_torch_refuses_int8(checkpoint):
    with pytest.raises(EstimatorError, match='int8'):
        build_estimator(EstimatorSettings(checkpoint=str(checkpoint), device='cpu',
                                          precision='int8'), warn=lambda message: None)


@pytest.mark.parametrize('backend', ['openvino', 'onnxruntime'])
def test_missing_backend_package_is_a_clear_error(checkpoint, backend, monkeypatch):
    monkeypatch.setitem(registry.BACKENDS, backend, dataclasses.replace(
        registry.BACKENDS[backend], requires='interhand_absent_runtime_package'))
    settings = EstimatorSettings(checkpoint=str(checkpoint), backend=backend, device='cpu')
    with pytest.raises(EstimatorError, match='not installed'):
        build_estimator(settings, warn=lambda message: None)


def test_auto_picks_the_first_installed_exact_backend(monkeypatch):
    """On a CPU OpenVINO, else torch (ONNX Runtime fp32 gains nothing dependable over torch),
    else ONNX Runtime: it is chosen only for a precision that torch has no kernels for."""
    assert registry.auto_order('cpu') == ['openvino', 'torch', 'onnxruntime']
    expected = next(b for b in registry.auto_order('cpu') if registry.installed(b))
    assert registry.choose_backend('auto', 'fp32', 'cpu') == expected
    onnx_int8 = (registry.installed('onnxruntime')
                 and 'int8' in registry.native_precisions('onnxruntime'))
    monkeypatch.setitem(registry.BACKENDS, 'openvino', dataclasses.replace(
        registry.BACKENDS['openvino'], requires='interhand_absent_runtime_package'))
    assert registry.choose_backend('auto', 'fp32', 'cpu') == 'torch'  # not onnxruntime
    if onnx_int8:
        assert registry.choose_backend('auto', 'int8', 'cpu') == 'onnxruntime'
    monkeypatch.setitem(registry.BACKENDS, 'onnxruntime', dataclasses.replace(
        registry.BACKENDS['onnxruntime'], requires='interhand_absent_runtime_package'))
    assert registry.choose_backend('auto', 'fp32', 'cpu') == 'torch'
    assert registry.choose_backend('auto', 'fp32', 'cuda') == 'torch'


def test_per_slice_argmax_finds_the_official_voxel():
    """The parts' decoding (peak per depth slice, then the best slice's argmax) picks the voxel
    of the official two-stage argmax, on random volumes (unique maxima) and on peaked ones."""
    from interhand_ros.engine.decoding import argmax_voxels, argmax_voxels_by_slice
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(3, 21, 64, 64, 64, generator=generator)
    centre = torch.randint(0, 64, (3, 21, 3), generator=generator)
    grid = torch.stack(torch.meshgrid(*(torch.arange(64),) * 3, indexing='ij'), dim=-1)
    distance = (grid - centre[:, :, None, None, None, [2, 1, 0]]).pow(2).sum(-1).float()
    peaked = 255.0 * torch.exp(-distance / (2 * 2.5 ** 2)) + 5.0 * noise
    for volume in (noise, peaked):
        expected = argmax_voxels(volume)
        found = argmax_voxels_by_slice(volume.reshape(3, 21 * 64, 64, 64), 21)
        assert torch.equal(found[0], expected[0]) and torch.equal(found[1], expected[1])
