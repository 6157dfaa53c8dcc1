"""One hand's wrist-frame joints -> robot-hand joint positions, with dex-retargeting.

dex-retargeting (MIT, dexsuite) optimizes the robot's joints so that its fingertip vectors
(vector, DexPilot) or link positions (position) match the human hand's. In dex-retargeting a
robot is a YAML config naming a URDF, so a side's robot is either one of the robot names the
library ships configs for (the list is read from the library: `robot_names()`) or the path of
the user's own config (a new hand, or a tuned one); the config's `urdf_path` is resolved
against urdf_dir as the library's set_default_urdf_dir does. Its input is the 21 joints in the
MANO wrist frame (geometry.wrist_frame). Here the result is also clamped to the URDF's joint
limits and, optionally, rate limited per joint in stamp time. The library's own low-pass filter
is off by default: the hands node filters upstream.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from interhand_ros.skeleton import NUM_JOINTS, SIDES

CONFIG_SUFFIXES = ('.yml', '.yaml')


class RetargetingError(ValueError):
    """The retargeter cannot be built (unknown robot or type, bad config, missing URDF or
    library)."""


def _missing(error: ImportError) -> RetargetingError:
    return RetargetingError(f'dex-retargeting is not installed or not importable ({error}): '
                            'install dex-retargeting==0.4.6 (scripts/setup_venv.sh does)')


def _constants() -> Any:
    """dex_retargeting.constants alone (light: the robot and type names, no optimizer)."""
    try:
        from dex_retargeting import constants
    except ImportError as error:
        raise _missing(error) from error
    return constants


def _config_class() -> Any:
    try:
        from dex_retargeting.retargeting_config import RetargetingConfig
    except ImportError as error:
        raise _missing(error) from error
    return RetargetingConfig


def robot_names() -> tuple[str, ...]:
    """The robots dex-retargeting ships configs for (its ROBOT_NAME_MAP), e.g. leap_hand."""
    return tuple(_constants().ROBOT_NAME_MAP.values())


def retargeting_types() -> tuple[str, ...]:
    """dex-retargeting's retargeting types (its RetargetingType): vector, position, dexpilot."""
    return tuple(kind.name for kind in _constants().RetargetingType)


def bundled_config(robot: str, side: str, retargeting_type: str) -> Path:
    """The config dex-retargeting ships for this robot, side and type."""
    constants = _constants()
    names = {value: key for key, value in constants.ROBOT_NAME_MAP.items()}
    if robot not in names:
        raise RetargetingError(f'unknown robot {robot!r}: one of {", ".join(names)} '
                               "(dex-retargeting's), or give a YAML config instead")
    if retargeting_type not in constants.RetargetingType.__members__:
        raise RetargetingError(f'unknown retargeting type {retargeting_type!r}: one of '
                               f'{", ".join(retargeting_types())}')
    return Path(constants.get_default_config_path(
        names[robot], constants.RetargetingType[retargeting_type], constants.HandType[side]))


def robot_argument(value: str) -> tuple[str, str]:
    """One value that is a robot name or a config path (interhand-run --retarget) ->
    HandRetargeter's (robot, config), one of them ''."""
    if value in robot_names():
        return value, ''
    if Path(value).suffix.lower() in CONFIG_SUFFIXES or Path(value).expanduser().is_file():
        return '', value
    raise RetargetingError(f'{value!r} is neither a robot of dex-retargeting '
                           f'({", ".join(robot_names())}) nor a YAML config file')


def load_config(path: Path, urdf_dir: str | Path, low_pass_alpha: float) -> Any:
    """dex-retargeting's RetargetingConfig from a YAML file, its urdf_path resolved against
    urdf_dir (without touching the library's process-wide default URDF folder)."""
    import yaml

    config_class = _config_class()
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise RetargetingError(f'retargeting config {path} cannot be read: {error}') from error
    section = document.get('retargeting') if isinstance(document, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get('urdf_path'), str):
        raise RetargetingError(f"retargeting config {path} has no 'retargeting:' mapping with "
                               'a urdf_path (see the configs dex-retargeting ships)')
    urdf_path = Path(section['urdf_path'].strip()).expanduser()
    if not urdf_path.is_absolute():
        if not str(urdf_dir):
            raise RetargetingError(f'{path.name} names the URDF {urdf_path} relative to '
                                   'urdf_dir: set urdf_dir (e.g. dex-urdf\'s robots/hands)')
        urdf_path = Path(urdf_dir).expanduser() / urdf_path
    if not urdf_path.is_file():
        raise RetargetingError(f'URDF {urdf_path} (urdf_path of {path.name}) not found: '
                               'urdf_dir must be the folder its urdf_path is relative to')
    try:
        return config_class.from_dict(dict(section), override={
            'urdf_path': str(urdf_path), 'low_pass_alpha': low_pass_alpha})
    except (TypeError, ValueError, AttributeError) as error:
        raise RetargetingError(f'retargeting config {path} is not valid: {error}') from error


class HandRetargeter:
    """Retargets one side's hand to one robot hand; call retarget() once per image."""

    def __init__(self, side: str, urdf_dir: str | Path = '', *, robot: str = '',
                 config: str | Path = '', retargeting_type: str = 'vector',
                 max_velocity: float = 0.0, low_pass_alpha: float = 1.0) -> None:
        """Exactly one of robot (a name of robot_names(): its bundled config of
        retargeting_type) or config (a YAML path; its own type applies).

        max_velocity: rad/s (m/s for prismatic joints) per joint, 0 = no limit.
        low_pass_alpha: dex-retargeting's own filter weight of the new value (1 = off).
        """
        if side not in SIDES:
            raise RetargetingError(f"side must be 'right' or 'left', got {side!r}")
        if bool(robot) == bool(str(config)):
            raise RetargetingError(f'{side} hand: give either a robot name or a retargeting '
                                   f'config, not {"both" if robot else "neither"}')
        if not max_velocity >= 0.0:
            raise RetargetingError(f'max_velocity must be >= 0, got {max_velocity}')
        if not 0.0 <= low_pass_alpha <= 1.0:
            raise RetargetingError(f'low_pass_alpha must be in [0, 1], got {low_pass_alpha}')
        if robot:
            path = bundled_config(robot, side, retargeting_type)
        else:
            path = Path(config).expanduser()
            if not path.is_file():
                raise RetargetingError(f'retargeting config {path} not found')
        settings = load_config(path, urdf_dir, low_pass_alpha)
        try:
            self._retargeting = settings.build()
        except (ValueError, RuntimeError, OSError, KeyError) as error:
            raise RetargetingError(f'dex-retargeting could not build {path.name} with '
                                   f'{settings.urdf_path}: {error}') from error
        from dex_retargeting.yourdfpy import DUMMY_JOINT_NAMES

        self.robot = robot or path.stem
        self.side, self.retargeting_type = side, settings.type
        self.max_velocity = max_velocity
        optimizer = self._retargeting.optimizer
        self._indices = np.asarray(optimizer.target_link_human_indices)
        if self._indices.size and not (0 <= self._indices.min() <= self._indices.max()
                                       < NUM_JOINTS):
            raise RetargetingError(f'{path.name}: target_link_human_indices must be joint '
                                   f'numbers 0..{NUM_JOINTS - 1}')
        names = list(optimizer.robot.dof_joint_names)
        # Position configs may add a free-floating base (dummy joints): not the robot's joints.
        self._keep = np.array([n not in DUMMY_JOINT_NAMES for n in names], dtype=bool)
        self.joint_names: tuple[str, ...] = tuple(n for n, k in zip(names, self._keep) if k)
        limits = np.asarray(optimizer.robot.joint_limits, dtype=np.float64)[self._keep]
        self.lower, self.upper = limits[:, 0].copy(), limits[:, 1].copy()
        self._is_position = settings.type == 'position'
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
