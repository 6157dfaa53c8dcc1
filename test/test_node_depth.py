"""The hands node with a registered depth image over real DDS: each hand's root from its own
measurement, the disagreement with the predicted relative root depth on /diagnostics."""
from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import Image
from test_geometry_depth import (
    LEFT_DEPTH,
    RIGHT_DEPTH,
    exact_network_output,
    skin_depth_image,
    two_hands,
)

from interhand_msgs.msg import HandPose
from interhand_ros.engine.estimator import EngineConfig, lift_two_hands
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.root_depth import SURFACE_OFFSET_M
from interhand_ros.skeleton import LEFT, RIGHT, WRIST

from test_node_ros import WAIT, camera_info, image

WIDTH, HEIGHT, FX = 320, 240, 300.0
CAMERA = CameraModel.from_intrinsics(
    np.array([[FX, 0, WIDTH / 2], [0, FX, HEIGHT / 2], [0, 0, 1]]), WIDTH, HEIGHT)  # = camera_info


pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


class LiftingEstimator:
    """InterNet's own lifting (engine.estimator.lift_two_hands) of a perfect network output for
    a known scene, except a wrong relative root depth; records the depth images it was given."""

    def __init__(self, hands: dict[str, np.ndarray], relative_root_m: float) -> None:
        self.result, self.inverse, self.box = exact_network_output(CAMERA, hands,
                                                                   relative_root_m)
        self.config = EngineConfig(depth_mode='depth_image')
        self.depths: list = []

    def estimate(self, image_rgb, camera, roi=None, depth=None):
        self.depths.append(depth)
        return lift_two_hands(self.result, self.inverse, camera, depth, self.config, self.box)

    finds_hands = False

    def describe(self) -> str:
        return 'InterNet lifting of an exact network output'

    def close(self) -> None:
        pass


def depth_message(metres: np.ndarray, stamp) -> Image:
    millimetres = np.where(np.isfinite(metres), np.round(metres * 1000), 0).astype(np.uint16)
    msg = Image(width=WIDTH, height=HEIGHT, encoding='16UC1', step=WIDTH * 2,
                data=millimetres.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, 'cam_optical'
    return msg


def test_two_hands_at_different_depths_each_get_their_own_measured_root(harness_factory):
    hands = two_hands(np.random.default_rng(7))
    predicted = 0.02  # the network's relative root depth; the truth is 0.13 m
    estimator = LiftingEstimator(hands, predicted)
    h = harness_factory(estimator, **{'depth.mode': 'depth_image', 'roi.mode': 'full'})
    metres = skin_depth_image(CAMERA, [hands[RIGHT], hands[LEFT]], SURFACE_OFFSET_M,
                              radius_px=5, background_m=1.8)  # half the image: half the discs
    stamp = h.stamp()
    h.send(image(stamp, width=WIDTH, height=HEIGHT),
           camera_info(stamp, width=WIDTH, height=HEIGHT, fx=FX), depth_message(metres, stamp),
           camera_info(stamp, width=WIDTH, height=HEIGHT, fx=FX))
    msg = h.wait_for_stamp(stamp)
    assert estimator.depths[-1] is not None
    for hand_msg, side in ((msg.right, RIGHT), (msg.left, LEFT)):
        assert hand_msg.depth_source == HandPose.DEPTH_IMAGE, side
        wrist = hand_msg.wrist_pose.position
        assert wrist.z == pytest.approx(hands[side][WRIST, 2], abs=0.003), side
        assert wrist.x == pytest.approx(hands[side][WRIST, 0], abs=0.002), side
    assert msg.right.wrist_pose.position.z == pytest.approx(RIGHT_DEPTH, abs=0.003)
    assert msg.left.wrist_pose.position.z == pytest.approx(LEFT_DEPTH, abs=0.003)
    assert msg.right_to_left_root.z == pytest.approx(LEFT_DEPTH - RIGHT_DEPTH, abs=0.005)

    def disagreement() -> float:
        values = [{kv.key: kv.value for kv in s.values}.get('root_depth_disagreement_m', 'nan')
                  for s in h.diagnostics]
        return next((float(v) for v in reversed(values) if v != 'nan'), float('nan'))
    h.wait_for(lambda: np.isfinite(disagreement()), WAIT, 'disagreement on /diagnostics')
    assert disagreement() == pytest.approx(LEFT_DEPTH - RIGHT_DEPTH - predicted, abs=0.005)
