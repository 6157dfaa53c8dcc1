"""interhand-quantize --backend onnxruntime: static QDQ int8 of the ONNX parts, calibrated on the
user's frames, reported against ONNX Runtime fp32, stored only when it passes, loaded back by
the onnxruntime backend for precision int8, and refused when absent or corrupt."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from quantize_support import LENIENT, footage  # noqa: F401 (fixture)
from test_engine_backends import checkpoint  # noqa: F401 (fixture)

from interhand_ros.engine.backends.base import BackendError
from interhand_ros.engine.backends.registry import stored_model_key
from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.runner import quantize

onnx = pytest.importorskip('onnx')
onnx_backend = pytest.importorskip('interhand_ros.engine.backends.onnx_backend')


def int8_config(cache) -> EngineConfig:
    return EngineConfig(device='cpu', backend='onnxruntime', precision='int8',
                        cache_dir=str(cache))


@pytest.fixture(scope='module')
def fp32_cache(checkpoint, tmp_path_factory):  # noqa: F811
    """A cache holding only the exported fp32 parts (copied per test: one export)."""
    if 'int8' not in onnx_backend.native_precisions('cpu'):
        pytest.skip('no int8 kernels for ONNX Runtime on this CPU')
    folder = tmp_path_factory.mktemp('fp32_cache')
    InterNetEstimator(checkpoint, EngineConfig(device='cpu', backend='onnxruntime',
                                               cache_dir=str(folder)))
    return folder


def arguments(checkpoint, footage, cache, out, *extra):  # noqa: F811
    return ['--backend', 'onnxruntime', '--checkpoint', str(checkpoint), '--images',
            str(footage), '--roi', 'full', '--cache-dir', str(cache), '--out', str(out),
            '--presence-threshold', '0', '--depth-mode', 'fixed', *extra]


@pytest.fixture(scope='module')
def int8_run(checkpoint, footage, fp32_cache, tmp_path_factory):  # noqa: F811
    cache = tmp_path_factory.mktemp('int8') / 'cache'
    shutil.copytree(fp32_cache, cache)
    out = tmp_path_factory.mktemp('out')
    code = quantize.main(arguments(checkpoint, footage, cache, out, *LENIENT))
    return code, cache, out


def producers(model) -> dict[str, object]:
    return {output: node for node in model.graph.node for output in node.output}


def test_int8_model_is_built_cached_reported_and_reloaded(int8_run, checkpoint):  # noqa: F811
    code, cache, out = int8_run
    assert code == 0
    report = json.loads((out / 'onnxruntime_int8_report.json').read_text())
    assert report['good'] and report['backend'] == 'onnxruntime'
    assert report['calibration_crops'] == 6 and report['held_out_crops'] == 2
    assert len(report['per_joint_error_px']['mean_per_joint']) == 42
    assert report['per_joint_error_mm']['samples'] > 0
    assert set(report['speed_ms']) == {'fp32', 'int8'}
    assert (out / 'onnxruntime_int8_model' / 'global.onnx').is_file()
    estimator = InterNetEstimator(checkpoint, int8_config(cache))
    assert estimator.details()['backend'] == 'onnxruntime'
    assert estimator.details()['precision'] == 'int8'
    assert estimator.details()['model_cache'] == report['model_dir']
    stored = json.loads((estimator.backend.model_dir / 'report.json').read_text())
    assert stored['per_joint_error_px'] == report['per_joint_error_px']
    crops = np.random.default_rng(1).integers(0, 256, (2, 256, 256, 3), np.uint8)
    results = estimator.infer(crops)
    assert all(np.isfinite(result.presence).all() for result in results)


def test_int8_graph_quantizes_convolutions_and_keeps_the_heads_fp32(int8_run):
    _, cache, _ = int8_run
    entry = next(cache.glob('onnxruntime-int8-*'))
    model = onnx.load(str(entry / 'global.onnx'))
    made_by = producers(model)
    convs = [node for node in model.graph.node if node.op_type == 'Conv']
    assert convs and all(made_by[node.input[1]].op_type == 'DequantizeLinear' for node in convs)
    for node in model.graph.node:
        if node.op_type == 'Gemm':  # root depth and presence heads: fp32 inputs
            assert all(made_by.get(name) is None or made_by[name].op_type != 'DequantizeLinear'
                       for name in node.input)
    for output in ('root_m', 'presence'):  # not rounded to uint8 steps after the head
        assert made_by[output].op_type != 'DequantizeLinear'
    hand = onnx.load(str(entry / 'right.onnx'))
    assert not any(node.op_type == 'QuantizeLinear' for node in hand.graph.node)


def test_corrupt_int8_model_is_not_trusted(int8_run, checkpoint, tmp_path):  # noqa: F811
    _, cache, _ = int8_run
    copy = tmp_path / 'cache'
    shutil.copytree(cache, copy)
    key = stored_model_key('onnxruntime', file_sha256(checkpoint), 'int8', False)
    entry = ModelCache(copy).entry_dir(key)
    assert entry.is_dir()
    (entry / 'global.onnx').write_bytes(b'\0' * 64)
    with pytest.raises(BackendError, match='interhand-quantize --backend onnxruntime'):
        InterNetEstimator(checkpoint, int8_config(copy))


def test_model_over_the_threshold_is_refused_and_not_stored(
        checkpoint, footage, fp32_cache, tmp_path, capsys):  # noqa: F811
    cache, out = tmp_path / 'cache', tmp_path / 'out'
    shutil.copytree(fp32_cache, cache)
    code = quantize.main(arguments(checkpoint, footage, cache, out, '--max-error-px', '1e9',
                                   '--max-error-mm', '0', '--min-agreement', '0'))
    assert code == 1
    assert 'NOT GOOD: worst joint moves' in capsys.readouterr().out
    report = json.loads((out / 'onnxruntime_int8_report.json').read_text())
    assert not report['good'] and 'model_dir' not in report
    assert not list(cache.glob('onnxruntime-int8-*'))
    with pytest.raises(BackendError, match='no int8 ONNX Runtime model'):
        InterNetEstimator(checkpoint, int8_config(cache))


def test_bf16_with_onnxruntime_is_a_clear_error(checkpoint, footage, fp32_cache,  # noqa: F811
                                               tmp_path, capsys):
    code = quantize.main(arguments(checkpoint, footage, fp32_cache, tmp_path / 'out',
                                   '--precision', 'bf16'))
    assert code == 2
    assert 'no native kernels' in capsys.readouterr().err
