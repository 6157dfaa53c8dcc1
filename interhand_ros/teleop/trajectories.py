"""Offline retargeting: a video's hands -> robot-hand joint trajectories (interhand-run).

For `interhand-run --retarget ROBOT_OR_CONFIG`: each frame's fresh, fully valid hands (filter
them first with teleop.stage.TeleopStage) are retargeted per side and written beside the poses as
`<stem>.retarget_<side>.csv` (frame, stamp, one column per URDF joint) and one
`<stem>.retarget.jsonl` (a line per frame and side: frame, stamp, side, robot, joints by name).
Held, lost or partly invalid hands get no row, as the retarget node sends no command for them.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from interhand_ros.estimate import HandEstimate, TwoHandEstimate
from interhand_ros.geometry.wrist_frame import joints_in_wrist_frame
from interhand_ros.skeleton import RIGHT
from interhand_ros.teleop.retargeting import HandRetargeter, robot_argument


def retargetable(hand: HandEstimate) -> np.ndarray | None:
    """The hand's wrist-frame joints if it is a fresh, fully valid measurement, else None."""
    if not hand.detected or hand.held or not np.all(hand.valid):
        return None
    joints = joints_in_wrist_frame(hand.joints, hand.side, hand.valid)
    return joints if np.isfinite(joints).all() else None


def retargeters_for(robots: Mapping[str, str], urdf_dir: str | Path,
                    retargeting_type: str = 'vector') -> dict[str, HandRetargeter]:
    """side -> a robot name or a config path (interhand-run's --retarget flags) -> its built
    retargeter; RetargetingError naming the problem if one is unusable."""
    retargeters = {}
    for side, value in robots.items():
        robot, config = robot_argument(value)
        retargeters[side] = HandRetargeter(side, urdf_dir, robot=robot, config=config,
                                           retargeting_type=retargeting_type)
    return retargeters


class TrajectoryWriter:
    """Retargets and writes the sides given; use as a context manager or call close()."""

    def __init__(self, stem: str | Path, retargeters: Mapping[str, HandRetargeter]) -> None:
        """stem: output path without suffix (e.g. out/video); retargeters: side -> its own."""
        self.stem = Path(stem)
        self.retargeters = dict(retargeters)
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        self._files: list[IO[str]] = []
        self._csv: dict[str, Any] = {}
        for side, retargeter in self.retargeters.items():
            handle = self._open(f'{self.stem.name}.retarget_{side}.csv')
            writer = csv.writer(handle)
            writer.writerow(['frame', 'stamp', *retargeter.joint_names])
            self._csv[side] = writer
        self._jsonl = self._open(f'{self.stem.name}.retarget.jsonl')
        self.rows = {side: 0 for side in self.retargeters}

    def _open(self, name: str) -> IO[str]:
        handle = (self.stem.parent / name).open('w', newline='')
        self._files.append(handle)
        return handle

    def paths(self) -> list[Path]:
        return [Path(handle.name) for handle in self._files]

    def add(self, frame: int, stamp_s: float, estimate: TwoHandEstimate) -> None:
        """Retarget and write the frame's usable hands (stamp_s: the image time, s)."""
        for side, retargeter in self.retargeters.items():
            joints = retargetable(estimate.right if side == RIGHT else estimate.left)
            if joints is None:
                continue
            positions = retargeter.retarget(joints, stamp_s)
            self._csv[side].writerow([frame, f'{stamp_s:.9f}',
                                      *(f'{value:.6f}' for value in positions)])
            self._jsonl.write(json.dumps({
                'frame': frame, 'stamp': stamp_s, 'side': side, 'robot': retargeter.robot,
                'joints': dict(zip(retargeter.joint_names, map(float, positions)))}) + '\n')
            self.rows[side] += 1

    def close(self) -> None:
        for handle in self._files:
            handle.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
