"""interhand-export --onnx: opset >= 17, dynamic batch, and ONNX Runtime computes the decoded
joints torch computes; the ONNX Runtime backend behind the estimator does the same."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_engine_backends import (  # noqa: F401 (fixtures)
    assert_same_decoded_joints,
    checkpoint,
    crops,
    reference,
    torch_heatmaps,
)

from interhand_ros.engine.checkpoint import load_internet
from interhand_ros.engine.estimator import EngineConfig, InterNetEstimator
from interhand_ros.engine.model import fold_batchnorm
from interhand_ros.engine.parts import WholeNetwork, example_images
from interhand_ros.runner import export

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')


@pytest.fixture(scope='module')
def exported(checkpoint, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp('onnx')
    assert export.main(['--checkpoint', str(checkpoint), '--onnx', str(folder), '--whole']) == 0
    return folder


def test_export_writes_opset_17_plus_files_with_a_dynamic_batch(exported):
    for name in ('global', 'right', 'left', 'network'):
        model = onnx.load(str(exported / f'{name}.onnx'))
        onnx.checker.check_model(model)
        assert max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')) >= 17
        batch = model.graph.input[0].type.tensor_type.shape.dim[0]
        assert batch.dim_param and not batch.dim_value  # symbolic, not a fixed size


def test_onnxruntime_runs_the_whole_network_like_torch(exported, checkpoint, capsys):  # noqa: F811
    model = fold_batchnorm(load_internet(checkpoint))
    session = ort.InferenceSession(str(exported / 'network.onnx'),
                                   providers=['CPUExecutionProvider'])
    for batch in (1, 3):
        images = example_images(batch)
        with torch.no_grad():
            expected = WholeNetwork(model)(images)
        outputs = session.run(None, {'images': images.numpy()})
        assert [o.shape for o in outputs] == [tuple(e.shape) for e in expected]
        assert np.array_equal(outputs[0], expected[0].numpy())       # crop pixels: same voxels
        assert np.allclose(outputs[4], expected[4].numpy(), atol=1e-5)  # presence


def test_export_check_reports_agreement(exported, checkpoint):  # noqa: F811
    model = fold_batchnorm(load_internet(checkpoint))
    assert export.check_with_onnxruntime(model, exported) == 0.0


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert export.main(['--checkpoint', str(tmp_path / 'none.pth'), '--onnx',
                        str(tmp_path / 'out')]) == 2
    assert 'checkpoint not found' in capsys.readouterr().err


def test_onnxruntime_backend_gives_the_decoded_joints_of_torch(checkpoint, reference, crops,  # noqa: F811
                                                               torch_heatmaps, tmp_path):  # noqa: F811
    estimator = InterNetEstimator(checkpoint, EngineConfig(
        device='cpu', presence_threshold=0.0, backend='onnxruntime', cache_dir=str(tmp_path)))
    assert estimator.details()['backend'] == 'onnxruntime'
    assert_same_decoded_joints(estimator.infer(crops), reference.infer(crops), torch_heatmaps)


@pytest.mark.skipif('CUDAExecutionProvider' not in ort.get_available_providers(),
                    reason='needs onnxruntime-gpu with CUDA (docs/gpu.md)')
def test_cuda_execution_provider_matches_the_cpu(exported):
    images = example_images(2).numpy()
    outputs = [ort.InferenceSession(str(exported / 'network.onnx'), providers=[provider]).run(
        None, {'images': images}) for provider in ('CUDAExecutionProvider',
                                                   'CPUExecutionProvider')]
    assert np.allclose(outputs[0][4], outputs[1][4], atol=1e-3)
