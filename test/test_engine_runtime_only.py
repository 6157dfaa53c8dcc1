"""The lean runtime: a model converted into the cache on a machine with torch runs where torch
and the other build-only packages cannot be imported (test/runtime_only.py refuses them, as the
runtime-only install of docs/runtime_install.md lacks them), through processing.factory and
through the node, with the outputs of the process that converted it; a cache copied from
another checkpoint or runtime version is refused with a message that says what differs.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from interhand_ros.engine.backends import registry
from interhand_ros.engine.cache import ModelCache, file_sha256
from interhand_ros.engine.checkpoint import save_random_checkpoint
from interhand_ros.estimate import HandPoseEstimator
from interhand_ros.geometry.crop import INPUT_SIZE
from interhand_ros.processing.factory import EstimatorError, EstimatorSettings, build_estimator

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNTIME_ONLY = [sys.executable, str(HERE / 'runtime_only.py')]
COMPILED = [name for name in ('openvino', 'onnxruntime') if registry.installed(name)]
BUILD_ONLY = ('torch', 'nncf', 'onnx')  # must not be loaded by the runtime path

# Run in the runtime-only process: build the estimator as the node does (device 'auto', the
# default), infer on the crops, report what it loaded.
ESTIMATE = '''
import json, sys
import numpy as np
from interhand_ros.processing.factory import EstimatorError, EstimatorSettings, build_estimator
checkpoint, backend, cache, crops, out = sys.argv[1:]
messages = []
try:
    estimator = build_estimator(EstimatorSettings(
        checkpoint=checkpoint, backend=backend, cache_dir=cache, presence_threshold=0.0),
        warn=messages.append)
except EstimatorError as error:
    print(json.dumps({'error': str(error)}))
    sys.exit(3)
results = estimator.infer(np.load(crops))
np.savez(out, **{name: np.stack([getattr(r, name) for r in results]) for name in
                 ('crop_xy', 'depth_rel_m', 'confidence', 'presence')})
print(json.dumps({'describe': estimator.describe(), 'messages': messages,
                  'loaded': sorted(name for name in sys.modules if name.split('.')[0] in
                                   ('torch', 'nncf', 'onnx'))}))
'''


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    return save_random_checkpoint(tmp_path_factory.mktemp('ckpt') / 'random.pth', seed=0)


@pytest.fixture(scope='module')
def crops(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('crops') / 'crops.npy'
    np.save(path, np.random.default_rng(0).integers(0, 256, (2, INPUT_SIZE, INPUT_SIZE, 3),
                                                    np.uint8))
    return path


@pytest.fixture(scope='module')
def converted(checkpoint, tmp_path_factory) -> tuple[Path, dict[str, HandPoseEstimator]]:
    """The cache filled here, where torch converts (the build machine), and its estimators."""
    cache = tmp_path_factory.mktemp('models')
    return cache, {backend: build_estimator(EstimatorSettings(
        checkpoint=str(checkpoint), backend=backend, device='cpu', cache_dir=str(cache),
        presence_threshold=0.0), warn=print) for backend in COMPILED}


def run_runtime_only(*args: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
    return subprocess.run([*RUNTIME_ONLY, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_the_build_only_packages_are_absent_not_faked(tmp_path):
    script = tmp_path / 'probe.py'
    script.write_text('import importlib.util\n'
                      "assert importlib.util.find_spec('torch') is None\n"
                      "assert importlib.util.find_spec('openvino') is not None\n"
                      'import torch\n')
    done = run_runtime_only(str(script))
    assert done.returncode != 0
    assert "ModuleNotFoundError: No module named 'torch'" in done.stderr


@pytest.mark.parametrize('backend', COMPILED)
def test_a_cached_model_runs_without_torch_with_the_converting_process_outputs(
        backend, checkpoint, crops, converted, tmp_path):
    cache, estimators = converted
    script = tmp_path / 'estimate.py'
    script.write_text(ESTIMATE)
    out = tmp_path / 'out.npz'
    done = run_runtime_only(str(script), str(checkpoint), backend, str(cache), str(crops),
                            str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    report = last_json(done.stdout)
    assert report['loaded'] == []
    assert report['describe'] == f'InterNet {backend} fp32 on cpu'
    assert any('reusing the cached model' in m and str(cache) in m for m in report['messages'])
    ours = np.load(out)
    theirs = estimators[backend].infer(np.load(crops))
    assert np.isfinite(ours['crop_xy']).all()  # both hands' parts ran (presence threshold 0)
    for name in ('crop_xy', 'depth_rel_m', 'confidence', 'presence'):
        expected = np.stack([getattr(result, name) for result in theirs])
        np.testing.assert_array_equal(ours[name], expected, err_msg=name)


@pytest.mark.parametrize('backend', COMPILED)
def test_a_cache_from_another_checkpoint_or_runtime_version_is_refused_clearly(
        backend, checkpoint, converted, tmp_path):
    """The robot got a cache converted for another checkpoint and another runtime version: it
    says what differs and that it cannot convert without torch (fp32), or how to build (int8)."""
    real = registry.stored_model_key(backend, file_sha256(checkpoint), 'fp32', False)
    model_files = converted[1][backend].backend.model_dir
    copied = ModelCache(tmp_path / 'copied')
    for changes in ({'runtime_version': '0.0-other'}, {'checkpoint_sha256': 'f' * 64},
                    {'runtime_version': '0.0-other', 'precision': 'int8'}):
        copied.store(dict(real, **changes), lambda folder: [
            shutil.copyfile(path, folder / path.name) for path in model_files.iterdir()
            if path.name != 'manifest.json'])
    script = tmp_path / 'estimate.py'
    script.write_text(ESTIMATE)
    done = run_runtime_only(str(script), str(checkpoint), backend, str(copied.root),
                            str(tmp_path / 'crops.npy'), str(tmp_path / 'out.npz'))
    assert done.returncode == 3, done.stdout + done.stderr
    message = last_json(done.stdout)['error']
    other_version = f"runtime_version '0.0-other' where this needs {real['runtime_version']!r}"
    other_checkpoint = (f"checkpoint_sha256 'ffffffffffff...' where this needs "
                        f"'{real['checkpoint_sha256'][:12]}...'")
    assert 'no fp32' in message and str(checkpoint) in message
    assert other_version in message and other_checkpoint in message
    assert 'needs torch, which is not installed here' in message
    assert 'runtime_install.md' in message
    if 'int8' in registry.native_precisions(backend):
        with pytest.raises(EstimatorError) as error:
            build_estimator(EstimatorSettings(checkpoint=str(checkpoint), backend=backend,
                                              device='cpu', precision='int8',
                                              cache_dir=str(copied.root)), warn=print)
        assert 'no int8' in str(error.value) and other_version in str(error.value)
        assert 'checkpoint_sha256' not in str(error.value)  # only the int8 entry is compared
        assert 'interhand-quantize' in str(error.value)


def test_the_torch_backend_says_torch_is_not_installed(checkpoint, tmp_path):
    script = tmp_path / 'estimate.py'
    script.write_text(ESTIMATE)
    done = run_runtime_only(str(script), str(checkpoint), 'torch', str(tmp_path),
                            str(tmp_path / 'crops.npy'), str(tmp_path / 'out.npz'))
    assert done.returncode == 3, done.stdout + done.stderr
    message = last_json(done.stdout)['error']
    assert "backend 'torch' needs the python package 'torch', which is not installed" in message
    assert "choose 'openvino'" in message or "choose 'onnxruntime'" in message


def test_the_node_serves_poses_in_the_runtime_only_install(ros, checkpoint, converted):
    """The hands node (roi detector on, as deployed) from the cache, in its own process with the
    build-only packages refused, answers a camera in this process over DDS."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    from interhand_msgs.msg import TwoHandPose

    from test_node_ros import camera_info, image
    cache, _ = converted
    node = subprocess.Popen(
        [*RUNTIME_ONLY, '-m', 'interhand_ros.ros.hands_node', '--ros-args',
         '-p', f'checkpoint:={checkpoint}', '-p', f'backend:={COMPILED[0]}',
         '-p', f'cache_dir:={cache}', '-r', 'image:=/lean/image_raw',
         '-r', 'camera_info:=/lean/camera_info', '-r', '__node:=hands_lean'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env=dict(os.environ))
    probe = rclpy.create_node('lean_probe')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = probe.create_publisher(Image, '/lean/image_raw', qos)
    info_pub = probe.create_publisher(CameraInfo, '/lean/camera_info', qos)
    poses: list[TwoHandPose] = []
    probe.create_subscription(TwoHandPose, 'hands', poses.append, qos)
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    try:
        deadline = time.monotonic() + 90.0
        while not poses and time.monotonic() < deadline:
            assert node.poll() is None, node.communicate()[0]
            if image_pub.get_subscription_count() > 0:
                stamp = probe.get_clock().now().to_msg()
                info_pub.publish(camera_info(stamp, width=160, height=120, fx=150.0))
                image_pub.publish(image(stamp, width=160, height=120))
            executor.spin_once(timeout_sec=0.2)
        assert poses, 'no pose from the runtime-only node'
        assert poses[0].header.frame_id == 'cam_optical' and len(poses[0].right.joints) == 21
    finally:
        node.send_signal(signal.SIGINT)
        try:
            output, _ = node.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
            output, _ = node.communicate()
        executor.shutdown()
        probe.destroy_node()
    assert node.returncode == 0, output
    assert 'reusing the cached model' in output and 'Traceback' not in output


def test_runtime_requirements_are_the_tested_pins_without_build_only_packages():
    def pins(name: str) -> dict[str, str]:
        lines = (REPO / name).read_text().splitlines()
        found = (re.match(r'([A-Za-z0-9_.\-]+)(\[[^]]*\])?(\S*)', line) for line in lines
                 if line.strip() and not line.startswith('#'))
        return {match[1].lower().replace('_', '-'): match[3] for match in found if match}
    runtime, full, lock = (pins(name) for name in (
        'requirements-runtime.txt', 'requirements.txt', 'requirements-lock.txt'))
    for name, pin in runtime.items():
        assert full.get(name) == pin, f'{name}{pin} is not the pin of requirements.txt'
        if pin.startswith('=='):
            assert lock.get(name) == pin, f'{name}{pin} is not the pin of requirements-lock.txt'
    assert not {'torch', 'nncf', 'onnx', 'onnxscript'} & set(runtime)
    assert {'openvino', 'onnxruntime', 'ros-rclpy', 'numpy'} <= set(runtime)
