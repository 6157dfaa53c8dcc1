"""The calibration seen from above: cameras (position, viewing direction, name) and the board
poses, as a PNG (matplotlib, no display needed).

"Above" is the cameras' mean up direction (optical -y: cameras are mounted roughly upright),
so the plot reads like a floor plan whatever the world frame's orientation.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from interhand_ros.calibration.board import BoardSpec
from interhand_ros.calibration.solve import Calibration


def plan_axes(calibration: Calibration) -> np.ndarray:
    """(2, 3): the world directions drawn as the plot's x and y (a floor plan)."""
    poses = [camera.pose for camera in calibration.cameras.values()]
    up = -np.mean([pose[:3, 1] for pose in poses], axis=0)
    up /= np.linalg.norm(up)
    forward = np.mean([pose[:3, 2] for pose in poses], axis=0)
    forward -= forward @ up * up
    if np.linalg.norm(forward) < 1e-6:  # cameras looking straight down: any plan direction
        forward = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    forward /= np.linalg.norm(forward)
    return np.stack([np.cross(forward, up), forward])


def plot_top_view(calibration: Calibration, spec: BoardSpec, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    axes_3d = plan_axes(calibration)
    width, height = spec.size_m
    outline = np.array([[0, 0, 0], [width, 0, 0], [width, height, 0], [0, height, 0],
                        [0, 0, 0]], dtype=np.float64)
    figure, axes = plt.subplots(figsize=(7, 7))
    for index, pose in enumerate(calibration.board_poses.values()):
        corners = (outline @ pose[:3, :3].T + pose[:3, 3]) @ axes_3d.T
        axes.plot(corners[:, 0], corners[:, 1], color='tab:gray', alpha=0.5, linewidth=0.8,
                  label='board poses' if index == 0 else None)
    spread = max(0.2, float(np.ptp([c.pose[:3, 3] @ axes_3d.T
                                    for c in calibration.cameras.values()])))
    for camera in calibration.cameras.values():
        position = camera.pose[:3, 3] @ axes_3d.T
        direction = camera.pose[:3, 2] @ axes_3d.T * 0.15 * spread
        axes.plot(*position, 'o', color='tab:blue')
        axes.arrow(*position, *direction, width=0.004 * spread, color='tab:blue')
        axes.annotate(f'{camera.name}\n{np.median(camera.errors_px):.2f} px', position,
                      textcoords='offset points', xytext=(6, 6), fontsize=9)
    axes.set_aspect('equal')
    axes.set_xlabel('m (right of the cameras\' mean view)')
    axes.set_ylabel('m (along the cameras\' mean view)')
    axes.set_title(f'cameras and board poses from above (world frame {calibration.world_frame})')
    axes.grid(True, alpha=0.3)
    axes.legend(loc='best', fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
