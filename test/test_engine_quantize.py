"""interhand-quantize: calibrates int8 on the user's frames, reports int8 (or bf16) against fp32
on held-out frames, stores the model only when it passes, and the estimator loads it back."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from quantize_support import LENIENT, footage  # noqa: F401 (fixture)
from test_engine_backends import checkpoint  # noqa: F401 (fixture)

from interhand_ros.engine.backends import openvino_backend
from interhand_ros.engine.backends.base import BackendError
from interhand_ros.engine.backends.registry import stored_model_key
from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.runner import quantize

pytest.importorskip('openvino')
pytest.importorskip('nncf')


@pytest.fixture(scope='module')
def fp32_cache(checkpoint, tmp_path_factory):  # noqa: F811
    """A cache holding only the converted fp32 model (copied per test: one conversion)."""
    folder = tmp_path_factory.mktemp('fp32_cache')
    InterNetEstimator(checkpoint, EngineConfig(device='cpu', backend='openvino',
                                               cache_dir=str(folder)))
    return folder


def fresh_cache(fp32_cache, folder):
    shutil.copytree(fp32_cache, folder)
    return folder


def arguments(checkpoint, footage, cache, out, *extra):  # noqa: F811
    return ['--checkpoint', str(checkpoint), '--images', str(footage), '--roi', 'full',
            '--cache-dir', str(cache), '--out', str(out), '--presence-threshold', '0',
            '--depth-mode', 'fixed', *extra]


@pytest.fixture(scope='module')
def int8_run(checkpoint, footage, fp32_cache, tmp_path_factory):  # noqa: F811
    if 'int8' not in openvino_backend.native_precisions('cpu'):
        pytest.skip('no native int8 in OpenVINO on this CPU')
    cache = fresh_cache(fp32_cache, tmp_path_factory.mktemp('int8') / 'cache')
    out = tmp_path_factory.mktemp('out')
    code = quantize.main(arguments(checkpoint, footage, cache, out, *LENIENT))
    return code, cache, out


def test_int8_model_is_built_cached_reported_and_reloaded(int8_run, checkpoint):  # noqa: F811
    code, cache, out = int8_run
    assert code == 0
    report = json.loads((out / 'int8_report.json').read_text())
    assert report['good'] and report['reasons'] == []
    assert report['calibration_crops'] == 6 and report['held_out_crops'] == 2
    assert len(report['per_joint_error_px']['mean_per_joint']) == 42
    assert report['per_joint_error_mm']['samples'] > 0
    assert set(report['speed_ms']) == {'fp32', 'int8'}
    assert (out / 'int8_model' / 'global.xml').is_file()
    estimator = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', backend='openvino', precision='int8', cache_dir=str(cache)))
    assert estimator.details()['precision'] == 'int8'
    assert estimator.details()['model_cache'] == report['model_dir']
    stored = json.loads((estimator.backend.model_dir / 'report.json').read_text())
    assert stored['per_joint_error_px'] == report['per_joint_error_px']
    crops = np.random.default_rng(1).integers(0, 256, (2, 256, 256, 3), np.uint8)
    assert all(np.isfinite(result.presence).all() for result in estimator.infer(crops))


def test_corrupt_int8_model_is_not_trusted(int8_run, checkpoint, tmp_path):  # noqa: F811
    _, cache, _ = int8_run
    copy = tmp_path / 'cache'
    shutil.copytree(cache, copy)
    key = stored_model_key('openvino', file_sha256(checkpoint), 'int8', False)
    entry = copy / ModelCache(copy).entry_dir(key).name
    (entry / 'left.bin').write_bytes(b'\0' * 64)
    with pytest.raises(BackendError, match='interhand-quantize'):
        InterNetEstimator(checkpoint, EngineConfig(device='cpu', backend='openvino',
                                                   precision='int8', cache_dir=str(copy)))


def test_model_over_the_threshold_is_refused_and_not_stored(
        checkpoint, footage, fp32_cache, tmp_path, capsys):  # noqa: F811
    if 'int8' not in openvino_backend.native_precisions('cpu'):
        pytest.skip('no native int8 in OpenVINO on this CPU')
    cache, out = fresh_cache(fp32_cache, tmp_path / 'cache'), tmp_path / 'out'
    code = quantize.main(arguments(checkpoint, footage, cache, out, '--max-error-px', '0',
                                   '--max-error-mm', '1e9'))
    assert code == 1
    assert 'NOT GOOD: worst joint moves' in capsys.readouterr().out
    report = json.loads((out / 'int8_report.json').read_text())
    assert not report['good'] and 'model_dir' not in report
    with pytest.raises(BackendError, match='interhand-quantize'):
        InterNetEstimator(checkpoint, EngineConfig(device='cpu', backend='openvino',
                                                   precision='int8', cache_dir=str(cache)))


def test_bf16_report(checkpoint, footage, fp32_cache, tmp_path):  # noqa: F811
    if 'bf16' not in openvino_backend.native_precisions('cpu'):
        pytest.skip('no native bf16 in OpenVINO on this CPU')
    cache = fresh_cache(fp32_cache, tmp_path / 'cache')
    code = quantize.main(arguments(checkpoint, footage, cache, tmp_path / 'out',
                                   '--precision', 'bf16', *LENIENT))
    assert code == 0
    report = json.loads((tmp_path / 'out' / 'bf16_report.json').read_text())
    assert report['precision'] == 'bf16' and set(report['speed_ms']) == {'fp32', 'bf16'}
    assert 'model_dir' not in report  # bf16 compiles the fp32 model: nothing to store


def test_too_few_frames_is_a_clear_error(checkpoint, fp32_cache, tmp_path, capsys):  # noqa: F811
    folder = tmp_path / 'two'
    folder.mkdir()
    for index in range(2):
        cv2.imwrite(str(folder / f'{index}.png'), np.zeros((64, 64, 3), np.uint8))
    cache = fresh_cache(fp32_cache, tmp_path / 'cache')
    code = quantize.main(arguments(checkpoint, folder, cache, tmp_path / 'out'))
    assert code == 2
    assert 'need at least one of each' in capsys.readouterr().err
