"""3D plot of both hands in the camera optical frame (metres), written to an image file.

Uses a bare matplotlib Figure (Agg canvas: no display, no pyplot state). Axes follow REP-103
(x right, y down, z forward) and the view is from behind the camera, so the plot reads like the
camera image with depth added.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.skeleton import BONES, LEFT, NUM_JOINTS, RIGHT, SIDES

SIDE_COLOURS = {RIGHT: '#d62728', LEFT: '#1f77b4'}  # same hue convention as the markers


def pose_joints(pose: Any) -> dict[str, np.ndarray]:
    """Side -> (21, 3) joints (NaN where not valid) of each detected hand of a TwoHandPose."""
    hands = {}
    for side in SIDES:
        hand = getattr(pose, side)
        if hand.detected:
            joints = np.array([(p.x, p.y, p.z) for p in hand.joints], dtype=np.float64)
            joints[~np.asarray(hand.valid, dtype=bool)[:NUM_JOINTS]] = np.nan
            hands[side] = joints
    return hands


def plot_hands_3d(hands: Mapping[str, np.ndarray], path: Path, title: str = '') -> Path:
    """Save a 3D skeleton plot (PNG) of hands: side -> (21, 3) joints in metres, NaN = invalid.

    Returns path.
    """
    from matplotlib.figure import (
        Figure,  # no pyplot: no GUI backend, safe in any thread
    )

    figure = Figure(figsize=(5, 5), dpi=100)
    axes = figure.add_subplot(projection='3d')
    drawn = []
    for side, joints in hands.items():
        joints = np.asarray(joints, dtype=np.float64)
        if side not in SIDE_COLOURS or joints.shape != (NUM_JOINTS, 3):
            raise ValueError(f"expected 'right'/'left' -> (21, 3) joints, got {side!r} "
                             f'{joints.shape}')
        if not np.isfinite(joints).any():
            continue
        colour = SIDE_COLOURS[side]
        for parent, child in BONES:
            segment = joints[[parent, child]]
            axes.plot(segment[:, 0], segment[:, 2], segment[:, 1], color=colour, linewidth=2)
        axes.scatter(joints[:, 0], joints[:, 2], joints[:, 1], color=colour, s=8,
                     label=f'{side} (wrist z = {joints[0, 2]:.2f} m)')
        drawn.append(joints[np.isfinite(joints).all(axis=1)])
    if drawn:
        points = np.concatenate(drawn)
        centre = (points.min(axis=0) + points.max(axis=0)) / 2
        half = max(float((points.max(axis=0) - points.min(axis=0)).max()) / 2, 0.05)
        axes.set_xlim(centre[0] - half, centre[0] + half)
        axes.set_ylim(centre[2] - half, centre[2] + half)
        axes.set_zlim(centre[1] + half, centre[1] - half)  # y down: invert the vertical axis
        axes.legend(loc='upper right')
    else:
        axes.text2D(0.5, 0.5, 'no hand detected', transform=axes.transAxes, ha='center')
    axes.set_xlabel('x [m] (right)')
    axes.set_ylabel('z [m] (forward)')
    axes.set_zlabel('y [m] (down)')
    axes.view_init(elev=20, azim=-80)  # from behind the camera, a little above and aside
    axes.set_title(title or 'hands in the camera optical frame')
    path = Path(path)
    figure.savefig(path)
    return path
