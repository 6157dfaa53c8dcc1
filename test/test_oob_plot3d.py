"""3D hand plot: a PNG is written for real joint data, bad input is refused."""
import cv2
import numpy as np
import pytest

from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.skeleton import NUM_JOINTS
from interhand_ros.visualization.plot3d import plot_hands_3d, pose_joints


def _hand(side: str, offset: float) -> HandEstimate:
    joints = np.linspace((offset, 0.0, 0.5), (offset + 0.1, 0.1, 0.55), NUM_JOINTS)
    valid = np.ones(NUM_JOINTS, dtype=bool)
    valid[3] = False
    return HandEstimate(side=side, presence=0.9, detected=True, joints=joints, valid=valid,
                        depth_source=DepthSource.PNP)


def test_pose_joints_masks_invalid_and_skips_absent_hands():
    from std_msgs.msg import Header

    from interhand_ros.messages import to_two_hand_pose
    estimate = TwoHandEstimate(
        right=_hand('right', 0.0), left=HandEstimate('left', 0.1, False),
        relative_root_depth=float('nan'), relative_root_depth_valid=False,
        right_to_left_root=np.full(3, np.nan), depth_source=DepthSource.PNP,
        estimator=EstimatorKind.LANDMARK, roi=Box(0, 0, 10, 10))
    joints = pose_joints(to_two_hand_pose(estimate, Header(frame_id='cam'), 10, 10))
    assert list(joints) == ['right']
    assert np.isnan(joints['right'][3]).all() and np.isfinite(joints['right'][4]).all()


def test_plot_writes_an_image_of_both_hands(tmp_path):
    both = plot_hands_3d({'right': _hand('right', -0.1).joints, 'left': _hand('left', 0.1).joints},
                         tmp_path / 'both.png')
    empty = plot_hands_3d({}, tmp_path / 'empty.png')
    both_image, empty_image = cv2.imread(str(both)), cv2.imread(str(empty))
    assert both_image.shape == (500, 500, 3)
    # Hand colours: red (right) and blue (left) pixels appear only when hands are drawn.
    def coloured(image, channel):
        others = [c for c in range(3) if c != channel]
        return ((image[:, :, channel] > 150) & (image[:, :, others] < 120).all(axis=2)).sum()
    assert coloured(both_image, 2) > 100 and coloured(both_image, 0) > 100  # BGR: red, blue
    assert coloured(empty_image, 2) == 0


def test_plot_rejects_bad_joints(tmp_path):
    with pytest.raises(ValueError):
        plot_hands_3d({'right': np.zeros((5, 3))}, tmp_path / 'bad.png')
    with pytest.raises(ValueError):
        plot_hands_3d({'middle': np.zeros((NUM_JOINTS, 3))}, tmp_path / 'bad.png')
