"""A synthetic adult hand in known poses, for the teleop tests and benchmark (no model needed).

hand_joints() gives the 21 joints of a relaxed hand in published order, in the camera optical
frame, with its palm facing the camera and fingers pointing up (image -y), so the MANO wrist
frame is known exactly: z = fingers (-y_cam), x = out of the palm (-z_cam, towards the camera),
y = z cross x (+x_cam for the right hand, -x_cam for the left).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from interhand_ros.skeleton import NUM_JOINTS

# Finger base (MCP; the thumb's CMC) in the hand plane, m: (lateral towards the thumb, forward).
_BASES = ((0.025, 0.025), (0.025, 0.090), (0.003, 0.093), (-0.017, 0.087), (-0.034, 0.078))
_BONES = ((0.040, 0.032, 0.028), (0.040, 0.024, 0.020), (0.045, 0.028, 0.022),
          (0.042, 0.026, 0.021), (0.033, 0.020, 0.019))
_THUMB_SPLAY = np.deg2rad(40.0)
CURL = np.deg2rad(15.0)  # flexion per joint towards the palm side


def hand_in_hand_frame(side: str, curl: float = CURL) -> np.ndarray:
    """(21, 3) joints in (lateral-to-thumb, forward, palmar) coordinates, m, wrist at 0.

    The thumb side is the same for both sides in these coordinates; hand_joints mirrors.
    """
    joints = np.zeros((NUM_JOINTS, 3))
    for finger, ((lateral, forward), bones) in enumerate(zip(_BASES, _BONES)):
        base = np.array([lateral, forward, 0.0])
        if finger == 0:
            direction = np.array([np.sin(_THUMB_SPLAY), np.cos(_THUMB_SPLAY), 0.0])
        else:
            direction = np.array([0.0, 1.0, 0.0])
        index = 1 + 4 * finger
        joints[index] = base
        point, angle = base, 0.0
        for level, length in enumerate(bones, start=1):
            angle += curl
            step = direction * np.cos(angle) + np.array([0.0, 0.0, np.sin(angle)])
            point = point + length * step
            joints[index + level] = point
    return joints


def hand_joints(side: str, wrist: ArrayLike = (0.0, 0.0, 0.5), curl: float = CURL
                ) -> np.ndarray:
    """(21, 3) joints in the optical frame: palm towards the camera, fingers up, wrist at wrist.

    The right hand's thumb is then on the image's right (x > 0: a right palm shown to the
    camera, fingers up, as in an oath); the left hand is its mirror image.
    """
    local = hand_in_hand_frame(side, curl)
    thumb_x = 1.0 if side == 'right' else -1.0
    camera = np.column_stack([thumb_x * local[:, 0], -local[:, 1], -local[:, 2]])
    return camera + np.asarray(wrist, dtype=np.float64)
