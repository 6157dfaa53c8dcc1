"""A new backend is one module plus one registry line: registered (test/tiny_backend.py, one
line), it is among the node's `backend` choices, builds through the factory with torch's
decoded joints, wins 'auto' when ranked first, and interhand-quantize builds, stores and the
estimator reloads its int8 model. Also: unknown names and CPU-only backends on CUDA are
refused with the choices."""
from __future__ import annotations

import json

import numpy as np
import pytest
from quantize_support import LENIENT, footage  # noqa: F401 (fixture)
from test_engine_backends import checkpoint, crops, reference  # noqa: F401 (fixtures)

from interhand_ros.engine.backends import registry
from interhand_ros.engine.backends.base import BackendError
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.engine.options import BACKENDS
from interhand_ros.processing.factory import EstimatorSettings, build_estimator
from interhand_ros.runner import quantize

TINY = registry.BackendEntry('tiny_backend', auto_rank=-1, quantizes=('int8',))


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(registry.BACKENDS, 'tiny', TINY)  # the one line


def test_registered_backend_is_a_choice_of_the_node_and_the_tools(tiny):
    from interhand_ros.ros.parameters import descriptor
    from interhand_ros.settings import SPECS, choice_problem
    assert 'tiny' in BACKENDS and 'tiny' in SPECS['backend'].choices
    assert 'tiny' in descriptor(SPECS['backend']).additional_constraints
    assert choice_problem('backend', 'tiny') is None
    assert quantize.parse_args(['--checkpoint', 'c', '--images', 'i', '--backend', 'tiny']
                               ).backend == 'tiny'


def test_unregistered_backend_is_refused_with_the_choices(checkpoint):  # noqa: F811
    from interhand_ros.settings import choice_problem
    assert 'tiny' not in BACKENDS
    assert 'one of' in (choice_problem('backend', 'tiny') or '')
    with pytest.raises(ValueError, match="backend must be one of .*'onnxruntime'"):
        EngineConfig(backend='tiny')
    with pytest.raises(BackendError, match='runs on cpu only'):
        registry.choose_backend('openvino', 'fp32', 'cuda')


def test_registered_backend_builds_through_the_factory_and_wins_auto(
        tiny, checkpoint, reference, crops, tmp_path):  # noqa: F811
    settings = EstimatorSettings(checkpoint=str(checkpoint), backend='tiny', device='cpu',
                                 cache_dir=str(tmp_path), presence_threshold=0.0, warmup=False)
    estimator = build_estimator(settings, warn=lambda message: None)
    assert estimator.details()['backend'] == 'tiny'
    for ours, theirs in zip(estimator.infer(crops), reference.infer(crops)):
        np.testing.assert_allclose(ours.crop_xy, theirs.crop_xy, atol=1e-3)
        np.testing.assert_allclose(ours.presence, theirs.presence, atol=1e-5)
    assert registry.choose_backend('auto', 'fp32', 'cpu') == 'tiny'
    assert registry.choose_backend('auto', 'fp32', 'cuda') == 'torch'  # tiny: CPU only


def test_quantize_builds_and_stores_the_registered_backends_model(
        tiny, checkpoint, footage, tmp_path):  # noqa: F811
    cache, out = tmp_path / 'cache', tmp_path / 'out'
    code = quantize.main(['--backend', 'tiny', '--checkpoint', str(checkpoint), '--images',
                          str(footage), '--roi', 'full', '--cache-dir', str(cache), '--out',
                          str(out), '--presence-threshold', '0', '--depth-mode', 'fixed',
                          *LENIENT])
    assert code == 0
    report = json.loads((out / 'tiny_int8_report.json').read_text())
    assert report['good'] and report['per_joint_error_px']['worst_joint_mean'] == 0.0
    estimator = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', backend='tiny', precision='int8', cache_dir=str(cache)))
    assert estimator.details()['model_cache'] == report['model_dir']
    assert estimator.details()['precision'] == 'int8'
