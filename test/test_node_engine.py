"""The hands node with real estimators: InterNet (random weights) behind the console script
as a separate process, the landmark fallback in process; start-up failures."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import Marker, MarkerArray

from interhand_msgs.msg import TwoHandPose
from interhand_ros.engine.model import InterNet
from interhand_ros.engine.options import DeviceError, resolve_device
from interhand_ros.estimate import EstimatorKind, HandPoseEstimator
from interhand_ros.processing.factory import EstimatorError, build_estimator
from interhand_ros.settings import DEFAULTS, estimator_settings

from test_node_ros import Harness, camera_info, image

REPO = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = REPO / '.venv' / 'bin' / 'hands_node'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """A random-weight InterNet checkpoint in the official layout (about 190 MB)."""
    path = tmp_path_factory.mktemp('ckpt') / 'random_internet.pth.tar'
    torch.manual_seed(0)
    torch.save({'network': InterNet().state_dict()}, path)
    return path


def make_estimator(params: dict, warn) -> HandPoseEstimator:
    """The node's estimator for these parameter values (the node builds it this way)."""
    return build_estimator(estimator_settings(params), warn)


def test_missing_checkpoint_and_bad_device_fail_at_start(tmp_path):
    warnings = []
    params = dict(DEFAULTS, checkpoint=str(tmp_path / 'nope.pth.tar'), device='cpu')
    with pytest.raises(EstimatorError, match='checkpoint not found'):
        make_estimator(params, warnings.append)
    (tmp_path / 'junk.pth.tar').write_bytes(b'not a checkpoint')
    with pytest.raises(EstimatorError, match='cannot load checkpoint'):
        make_estimator(dict(params, checkpoint=str(tmp_path / 'junk.pth.tar')), warnings.append)
    with pytest.raises(DeviceError, match="device must be"):
        resolve_device('tpu', True, warnings.append)
    with pytest.raises(EstimatorError, match="device must be"):
        make_estimator(dict(params, device='tpu'), warnings.append)
    with pytest.raises(EstimatorError, match='threads must be >= 0'):
        make_estimator(dict(params, threads=-1), warnings.append)


@pytest.mark.skipif(torch.ops.mkldnn._is_mkldnn_bf16_supported(),
                    reason='this CPU runs bf16 natively')
def test_precision_the_cpu_cannot_run_fails_at_start(checkpoint):
    params = dict(DEFAULTS, checkpoint=str(checkpoint), device='cpu', precision='bf16')
    with pytest.raises(EstimatorError, match='bf16'):
        make_estimator(params, print)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the behaviour without CUDA')
def test_cuda_requested_without_cuda_falls_back_or_fails_as_configured():
    warnings = []
    assert resolve_device('cuda', True, warnings.append) == 'cpu'
    assert 'CUDA is not available' in warnings[0] and 'CPU' in warnings[0]
    with pytest.raises(DeviceError, match='cuda_fallback'):
        resolve_device('cuda:0', False, warnings.append)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_device_is_used_when_present():
    assert resolve_device('cuda', False, print) == 'cuda'


def run_console_script(*ros_args: str) -> subprocess.Popen:
    command = ([str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists()
               else [sys.executable, '-m', 'interhand_ros.ros.hands_node'])
    return subprocess.Popen(command + ['--ros-args', *ros_args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def test_console_script_with_missing_checkpoint_exits_non_zero(tmp_path):
    process = run_console_script('-p', f'checkpoint:={tmp_path}/missing.pth.tar')
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    assert 'checkpoint not found' in output and 'missing.pth.tar' in output


def test_console_script_runs_internet_end_to_end_as_a_separate_process(ros, checkpoint):
    """The real engine behind the console script: hands, markers and debug image per frame."""
    width, height = 96, 72
    process = run_console_script('--params-file', str(REPO / 'config' / 'hands.yaml'),
                                 '-p', f'checkpoint:={checkpoint}', '-p', 'device:=cpu',
                                 '-r', 'image:=/cam/image_raw',
                                 '-r', 'camera_info:=/cam/camera_info', '-r', '__node:=hands_ext')
    probe = rclpy.create_node('external_probe')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = probe.create_publisher(Image, '/cam/image_raw', qos)
    info_pub = probe.create_publisher(CameraInfo, '/cam/camera_info', qos)
    outputs: dict[str, dict] = {'hands': {}, 'markers': {}, 'debug': {}}

    def keep(kind):
        def callback(msg):
            header = msg.markers[0].header if kind == 'markers' else msg.header
            outputs[kind][(header.stamp.sec, header.stamp.nanosec)] = msg
        return callback

    probe.create_subscription(TwoHandPose, 'hands', keep('hands'), qos)
    probe.create_subscription(MarkerArray, 'hands/markers', keep('markers'), qos)
    probe.create_subscription(Image, 'hands/debug_image', keep('debug'), qos)

    def complete():
        return set(outputs['hands']) & set(outputs['markers']) & set(outputs['debug'])

    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    try:
        deadline = time.monotonic() + 60.0
        while not complete() and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            if image_pub.get_subscription_count() > 0:
                stamp = probe.get_clock().now().to_msg()
                info_pub.publish(camera_info(stamp, width=width, height=height, fx=90.0))
                image_pub.publish(image(stamp, width=width, height=height))
            executor.spin_once(timeout_sec=0.3)
        assert complete(), f'outputs from the node process: {[len(v) for v in outputs.values()]}'
        key = min(complete())
        msg, markers, debug = (outputs[kind][key] for kind in ('hands', 'markers', 'debug'))
        assert msg.header.frame_id == 'cam_optical' and msg.estimator == EstimatorKind.INTERNET
        assert 0.0 < msg.inference_time < 30.0
        assert (msg.roi.width, msg.roi.height) == (width, height)  # roi clipped to the image
        assert (debug.width, debug.height, debug.encoding) == (width, height, 'rgb8')
        for hand, side in ((msg.right, 'right'), (msg.left, 'left')):
            assert 0.0 <= hand.presence <= 1.0 and len(hand.joints) == 21
            joints = next(m for m in markers.markers if m.ns == side and m.id == 0)
            if hand.detected:
                assert [(p.x, p.y, p.z) for p in joints.points] == [
                    (p.x, p.y, p.z) for p, ok in zip(hand.joints, hand.valid) if ok]
            else:
                assert joints.action == Marker.DELETE and not any(hand.valid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        executor.shutdown()
        probe.destroy_node()
    assert process.returncode == 0, output


def test_without_checkpoint_the_landmark_fallback_serves_and_says_so(ros):
    warnings = []
    estimator = make_estimator(dict(DEFAULTS), warnings.append)
    assert 'InterNet is NOT loaded' in warnings[0] and 'snapshot_20.pth.tar' in warnings[0]
    h = Harness(estimator, diagnostics_period=0.2)
    try:
        assert h.node.roi is not None  # roi.mode detector: the whole image, no detector loaded
        assert h.node.roi.config.mode == 'full' and h.node.params['roi.mode'] == 'detector'
        stamp = h.send_good()
        msg = h.wait_for_stamp(stamp, timeout=20.0)
        assert msg.estimator == EstimatorKind.LANDMARK
        assert not msg.right.detected and not msg.left.detected  # a synthetic pattern, no hands
        h.wait_for(lambda: bool(h.diagnostics) and 'landmark fallback' in
                   {kv.key: kv.value for kv in h.diagnostics[-1].values}['estimator'],
                   10.0, 'diagnostics naming the estimator')
    finally:
        h.close()


def test_diagnostics_name_the_backend_and_precision_that_run(checkpoint, tmp_path):
    """The default backend 'auto' runs OpenVINO on a CPU where it is installed, and says so."""
    params = dict(DEFAULTS, checkpoint=str(checkpoint), device='cpu', cache_dir=str(tmp_path))
    messages = []
    estimator = make_estimator(params, messages.append)
    chosen = 'openvino' if importlib.util.find_spec('openvino') else 'torch'
    assert estimator.describe() == f'InterNet {chosen} fp32 on cpu (backend auto)'
    if chosen == 'openvino':  # the first start converts, into the cache folder it names
        assert any('converting' in m and str(tmp_path) in m for m in messages), messages
        make_estimator(params, messages.append)
        assert 'reusing the cached model' in messages[-1] and str(tmp_path) in messages[-1]
    torch_params = dict(params, backend='torch')
    assert make_estimator(torch_params, print).describe() == 'InterNet torch fp32 on cpu'


PHOTO = REPO / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'


@pytest.mark.skipif(not PHOTO.exists(), reason=f'test photo {PHOTO} is absent')
def test_real_photo_with_detector_roi_gives_a_hand_with_matching_markers(ros):
    import cv2
    small = cv2.resize(cv2.imread(str(PHOTO)), (320, 240), interpolation=cv2.INTER_AREA)
    bgr = np.full((480, 640, 3), 255, np.uint8)  # the hand in the lower right of a white frame
    bgr[220:460, 300:620] = small
    height, width = bgr.shape[:2]
    h = Harness(make_estimator(dict(DEFAULTS), lambda _: None), diagnostics_period=0.2,
                **{'roi.mode': 'detector'})
    try:
        h.wait_for(lambda: h.node.markers_pub.get_subscription_count() > 0, 5.0, 'markers sub')
        stamp = h.stamp()
        photo = Image(width=width, height=height, encoding='bgr8', step=width * 3,
                      data=bgr.tobytes())
        photo.header.stamp, photo.header.frame_id = stamp, 'cam_optical'
        h.send(photo, camera_info(stamp, width=width, height=height, fx=600.0))
        msg = h.wait_for_stamp(stamp, timeout=20.0)
        hands = [hand for hand in (msg.right, msg.left) if hand.detected]
        assert len(hands) == 1, 'the photo shows one hand'
        hand = hands[0]
        side = 'right' if hand is msg.right else 'left'
        uv = np.array([[p.u, p.v] for p in hand.pixels])
        assert ((uv >= 0) & (uv < [width, height])).all()
        roi = msg.roi  # roi.mode detector: the fallback's own detector searched the whole image
        assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == (0, 0, width, height)
        assert uv[:, 0].min() > 250 and uv[:, 1].min() > 180  # found in the lower right
        assert ((uv >= [roi.x_offset - 5, roi.y_offset - 5])
                & (uv <= [roi.x_offset + roi.width + 5, roi.y_offset + roi.height + 5])).all()
        assert 0.1 < hand.wrist_pose.position.z < 3.0  # metres in front of the camera
        h.wait_for(lambda: any(m.markers and m.markers[0].header.stamp == stamp
                               for m in h.markers), 5.0, 'markers')
        markers = next(m for m in h.markers if m.markers[0].header.stamp == stamp)
        joints = next(m for m in markers.markers if m.ns == side and m.id == 0)
        assert [(p.x, p.y, p.z) for p in joints.points] == [
            (p.x, p.y, p.z) for p, ok in zip(hand.joints, hand.valid) if ok]
    finally:
        h.close()
