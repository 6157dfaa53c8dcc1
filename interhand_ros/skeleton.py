"""Joint order of the published hands and its one mapping from InterNet's output order.

InterNet (InterHand2.6M) emits 42 joints: right hand 0-20, left hand 21-41, each hand listed
fingertip first and wrist last (thumb4, thumb3, thumb2, thumb1, index4, ..., pinky1, wrist).
We publish each hand in the order of MediaPipe / OpenPose / dex-retargeting: wrist 0, then
thumb, index, middle, ring, pinky, each from base to tip. The constants match
interhand_msgs/HandPose.
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 21
NUM_MODEL_JOINTS = 2 * NUM_JOINTS

# The two hands, in the order of InterNet's output, its presence vector and the messages.
RIGHT, LEFT = 'right', 'left'
SIDES = (RIGHT, LEFT)

JOINT_NAMES = (
    'wrist',
    'thumb_cmc', 'thumb_mcp', 'thumb_ip', 'thumb_tip',
    'index_mcp', 'index_pip', 'index_dip', 'index_tip',
    'middle_mcp', 'middle_pip', 'middle_dip', 'middle_tip',
    'ring_mcp', 'ring_pip', 'ring_dip', 'ring_tip',
    'pinky_mcp', 'pinky_pip', 'pinky_dip', 'pinky_tip',
)
WRIST = 0
INDEX_MCP = 5
MIDDLE_MCP = 9
PINKY_MCP = 17

# Model joint index (within one hand, 0..20) of each published joint.
_MODEL_WRIST = 20
_FINGERS = 5
INTERHAND_TO_ROS: np.ndarray = np.array(
    [_MODEL_WRIST]
    + [4 * finger + (3 - level) for finger in range(_FINGERS) for level in range(4)],
    dtype=np.int64,
)
ROS_TO_INTERHAND: np.ndarray = np.argsort(INTERHAND_TO_ROS)

# Model index ranges of the two hands in the 42-joint output, and their root (wrist) joints.
RIGHT_SLICE = slice(0, NUM_JOINTS)
LEFT_SLICE = slice(NUM_JOINTS, NUM_MODEL_JOINTS)
MODEL_ROOT_INDEX = {RIGHT: _MODEL_WRIST, LEFT: NUM_JOINTS + _MODEL_WRIST}

# Parent of each published joint (-1 for the wrist): base joints hang off the wrist.
PARENTS: np.ndarray = np.array(
    [-1] + [WRIST if level == 0 else 1 + 4 * finger + level - 1
            for finger in range(_FINGERS) for level in range(4)],
    dtype=np.int64,
)
# Bones as (parent, child) pairs in published order; 20 per hand.
BONES: tuple[tuple[int, int], ...] = tuple(
    (int(PARENTS[child]), child) for child in range(1, NUM_JOINTS))


def split_model_joints(joints_42: np.ndarray) -> dict[str, np.ndarray]:
    """Split a (42, ...) array in model order into per-hand (21, ...) arrays in published order."""
    return {
        RIGHT: joints_42[RIGHT_SLICE][INTERHAND_TO_ROS],
        LEFT: joints_42[LEFT_SLICE][INTERHAND_TO_ROS],
    }

