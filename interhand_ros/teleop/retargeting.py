"""One hand's wrist-frame joints -> robot-hand joint positions, with dex-retargeting.

dex-retargeting (MIT, dexsuite) optimizes the robot's joints so that its fingertip vectors
(vector, DexPilot) or link positions (position) match the human hand's, from the configs it
ships (`configs/teleop`, `configs/offline`) and the dex-urdf robot descriptions in urdf_dir.
Its input is the 21 joints in the MANO wrist frame (teleop.wrist_frame). Here the result is
also clamped to the URDF's joint limits and, optionally, rate limited per joint in stamp time.
The library's own low-pass filter is off by default: the hands node filters upstream.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.skeleton import NUM_JOINTS, SIDES

ROBOTS = ('leap_hand', 'allegro_hand', 'shadow_hand', 'inspire_hand', 'ability_hand')
RETARGETING_TYPES = ('vector', 'dexpilot', 'position')


class RetargetingError(ValueError):
    """The retargeter cannot be built (unknown robot or type, missing URDF or library)."""


def _import_dex_retargeting() -> Any:
    try:
        from dex_retargeting import constants
        from dex_retargeting.retargeting_config import RetargetingConfig
        from dex_retargeting.yourdfpy import DUMMY_JOINT_NAMES
    except ImportError as error:
        raise RetargetingError(
            f'dex-retargeting is not installed or not importable ({error}): install '
            'dex-retargeting==0.4.6 (scripts/setup_venv.sh does)') from error
    return constants, RetargetingConfig, DUMMY_JOINT_NAMES


class HandRetargeter:
    """Retargets one side's hand to one robot hand; call retarget() once per image."""

    def __init__(self, robot: str, side: str, retargeting_type: str, urdf_dir: str | Path,
                 max_velocity: float = 0.0, low_pass_alpha: float = 1.0) -> None:
        """max_velocity: rad/s (m/s for prismatic joints) per joint, 0 = no limit.

        low_pass_alpha: dex-retargeting's own filter weight of the new value (1 = off).
        """
        if robot not in ROBOTS:
            raise RetargetingError(f'unknown robot {robot!r}: one of {", ".join(ROBOTS)}')
        if retargeting_type not in RETARGETING_TYPES:
            raise RetargetingError(f'unknown retargeting type {retargeting_type!r}: one of '
                                   f'{", ".join(RETARGETING_TYPES)}')
        if side not in SIDES:
            raise RetargetingError(f"side must be 'right' or 'left', got {side!r}")
        if not max_velocity >= 0.0:
            raise RetargetingError(f'max_velocity must be >= 0, got {max_velocity}')
        if not 0.0 <= low_pass_alpha <= 1.0:
            raise RetargetingError(f'low_pass_alpha must be in [0, 1], got {low_pass_alpha}')
        constants, config_class, dummy_names = _import_dex_retargeting()
        urdf_dir = Path(urdf_dir).expanduser()
        name = {value: key for key, value in constants.ROBOT_NAME_MAP.items()}[robot]
        config_path = constants.get_default_config_path(
            name, constants.RetargetingType[retargeting_type], constants.HandType[side])
        urdf_path = urdf_dir / robot / f'{robot}_{side}.urdf'
        if not urdf_path.is_file():
            raise RetargetingError(
                f'URDF {urdf_path} not found: urdf_dir must be a dex-urdf robots/hands folder '
                f'(holding {robot}/{robot}_{side}.urdf)')
        config_class.set_default_urdf_dir(str(urdf_dir))
        try:
            config = config_class.load_from_file(config_path,
                                                 override={'low_pass_alpha': low_pass_alpha})
            self._retargeting = config.build()
        except (ValueError, RuntimeError, OSError) as error:
            raise RetargetingError(f'dex-retargeting could not build {config_path.name} with '
                                   f'{urdf_path}: {error}') from error
        self.robot, self.side, self.retargeting_type = robot, side, retargeting_type
        self.max_velocity = max_velocity
        optimizer = self._retargeting.optimizer
        names = list(optimizer.robot.dof_joint_names)
        # The position configs add a free-floating base (dummy joints): not the robot's joints.
        self._keep = np.array([n not in dummy_names for n in names], dtype=bool)
        self.joint_names: tuple[str, ...] = tuple(n for n, k in zip(names, self._keep) if k)
        limits = np.asarray(optimizer.robot.joint_limits, dtype=np.float64)[self._keep]
        self.lower, self.upper = limits[:, 0].copy(), limits[:, 1].copy()
        self._indices = np.asarray(optimizer.target_link_human_indices)
        self._is_position = retargeting_type == 'position'
        self._last: np.ndarray | None = None
        self._last_stamp = -math.inf

    def reset(self) -> None:
        """Forget the previous command (next one is not rate limited) and the warm start."""
        self._retargeting.reset()
        self._last, self._last_stamp = None, -math.inf

    def reference(self, joints_wrist: np.ndarray) -> np.ndarray:
        """dex-retargeting's reference value from the 21 wrist-frame joints."""
        if self._is_position:
            return joints_wrist[self._indices, :]
        origin, task = self._indices[0], self._indices[1]
        return joints_wrist[task, :] - joints_wrist[origin, :]

    def retarget(self, joints_wrist: np.ndarray, stamp_s: float) -> np.ndarray:
        """Joint positions (len(joint_names)) within the URDF limits for the image at stamp_s."""
        joints_wrist = np.asarray(joints_wrist, dtype=np.float64)
        if joints_wrist.shape != (NUM_JOINTS, 3):
            raise ValueError(f'joints_wrist must be ({NUM_JOINTS}, 3), got {joints_wrist.shape}')
        if not np.isfinite(joints_wrist).all():
            raise ValueError('joints_wrist must be finite (a hand with every joint valid)')
        if stamp_s < self._last_stamp:
            self.reset()
        qpos = np.asarray(self._retargeting.retarget(self.reference(joints_wrist)),
                          dtype=np.float64)[self._keep]
        qpos = np.clip(qpos, self.lower, self.upper)
        if self.max_velocity > 0.0 and self._last is not None:
            step = self.max_velocity * max(stamp_s - self._last_stamp, 0.0)
            qpos = np.clip(qpos, self._last - step, self._last + step)
        self._last, self._last_stamp = qpos, stamp_s
        return qpos.copy()
