"""dex-retargeting wrapper (interhand_ros.teleop.retargeting) on the dex-urdf robot hands."""
from __future__ import annotations

import numpy as np
import pytest
from teleop_support import URDF_DIR, urdf_limits

from interhand_ros.skeleton import SIDES
from interhand_ros.teleop.retargeting import ROBOTS, HandRetargeter, RetargetingError
from interhand_ros.teleop.synthetic import hand_joints
from interhand_ros.teleop.wrist_frame import joints_in_wrist_frame

pytestmark = pytest.mark.skipif(not URDF_DIR.is_dir(),
                                reason=f'{URDF_DIR} absent (robot URDFs for tests)')
pytest.importorskip('dex_retargeting.retargeting_config')


def wrist_joints(side: str, curl: float = 0.26) -> np.ndarray:
    return joints_in_wrist_frame(hand_joints(side, curl=curl), side)


@pytest.mark.parametrize('robot', ROBOTS)
@pytest.mark.parametrize('side', SIDES)
def test_every_robot_gives_urdf_joint_names_inside_the_urdf_limits(robot, side):
    retargeter = HandRetargeter(robot, side, 'vector', URDF_DIR)
    limits = urdf_limits(robot, side)
    assert set(retargeter.joint_names) == set(limits)
    rng = np.random.default_rng(0)
    for step in range(3):  # also a wild hand: the optimizer may want to leave the limits
        noisy = wrist_joints(side) + rng.normal(0.0, 0.02 * step, (21, 3))
        positions = retargeter.retarget(noisy, step / 30)
        assert positions.shape == (len(limits),)
        for name, value in zip(retargeter.joint_names, positions):
            lower, upper = limits[name]
            assert lower - 1e-9 <= value <= upper + 1e-9, (name, value)


@pytest.mark.parametrize('side', SIDES)
@pytest.mark.parametrize('kind', ['vector', 'dexpilot'])
def test_curling_the_human_fingers_flexes_the_leap_fingers(side, kind):
    """A wrong wrist frame (e.g. the other side's) bends these joints the other way."""
    retargeter = HandRetargeter('leap_hand', side, kind, URDF_DIR)
    flexion = {}
    for curl in (0.05, 0.5):
        retargeter.reset()
        for step in range(5):
            positions = retargeter.retarget(wrist_joints(side, curl), step / 30)
        flexion[curl] = dict(zip(retargeter.joint_names, positions))
    for mcp in ('1', '5', '9'):  # LEAP index, middle, ring MCP flexion
        assert flexion[0.5][mcp] - flexion[0.05][mcp] > 0.3, mcp


def test_position_retargeting_publishes_the_hand_joints_not_its_free_base():
    retargeter = HandRetargeter('leap_hand', 'right', 'position', URDF_DIR)
    assert set(retargeter.joint_names) == set(urdf_limits('leap_hand', 'right'))
    assert retargeter.retarget(wrist_joints('right'), 0.0).shape == (16,)


def test_velocity_limit_bounds_each_step_in_stamp_time():
    retargeter = HandRetargeter('leap_hand', 'right', 'vector', URDF_DIR, max_velocity=1.0)
    first = retargeter.retarget(wrist_joints('right', 0.05), 0.0)
    second = retargeter.retarget(wrist_joints('right', 0.7), 0.1)
    assert np.abs(second - first).max() <= 0.1 + 1e-9
    free = HandRetargeter('leap_hand', 'right', 'vector', URDF_DIR)
    free.retarget(wrist_joints('right', 0.05), 0.0)
    assert np.abs(free.retarget(wrist_joints('right', 0.7), 0.1) - first).max() > 0.1


def test_bad_inputs_and_settings_name_the_problem(tmp_path):
    with pytest.raises(RetargetingError, match='unknown robot'):
        HandRetargeter('r2d2_hand', 'right', 'vector', URDF_DIR)
    with pytest.raises(RetargetingError, match='retargeting type'):
        HandRetargeter('leap_hand', 'right', 'magic', URDF_DIR)
    with pytest.raises(RetargetingError, match='leap_hand_right.urdf'):
        HandRetargeter('leap_hand', 'right', 'vector', tmp_path)
    retargeter = HandRetargeter('leap_hand', 'right', 'vector', URDF_DIR)
    with pytest.raises(ValueError, match='finite'):
        retargeter.retarget(np.full((21, 3), np.nan), 0.0)


def test_missing_dex_retargeting_is_named(monkeypatch):
    import sys
    for name in [n for n in sys.modules if n.startswith('dex_retargeting')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'dex_retargeting', None)  # import fails, as if absent
    with pytest.raises(RetargetingError, match='dex-retargeting is not installed'):
        HandRetargeter('leap_hand', 'right', 'vector', URDF_DIR)


def test_trajectory_writer_writes_a_row_per_fresh_hand_with_urdf_columns(tmp_path):
    import csv
    import json

    from interhand_ros.estimate import (
        Box,
        DepthSource,
        EstimatorKind,
        HandEstimate,
        TwoHandEstimate,
    )
    from interhand_ros.teleop.trajectories import TrajectoryWriter

    def frame(held: bool) -> TwoHandEstimate:
        joints = hand_joints('right')
        right = HandEstimate(side='right', presence=1.0, detected=True, joints=joints,
                             valid=np.ones(21, bool), wrist_position=joints[0], held=held)
        left = HandEstimate(side='left', presence=0.0, detected=False)
        return TwoHandEstimate(right, left, 0.0, False, np.full(3, np.nan),
                               DepthSource.HAND_SIZE, EstimatorKind.LANDMARK, Box(0, 0, 64, 48))

    with TrajectoryWriter(tmp_path / 'out' / 'video', 'leap_hand', URDF_DIR) as writer:
        for index, held in enumerate([False, False, True, False]):
            writer.add(index, index / 30, frame(held))
    rows = list(csv.reader((tmp_path / 'out' / 'video.retarget_right.csv').open()))
    limits = urdf_limits('leap_hand', 'right')
    assert rows[0][:2] == ['frame', 'stamp'] and set(rows[0][2:]) == set(limits)
    assert [row[0] for row in rows[1:]] == ['0', '1', '3']  # the held frame has no row
    left_rows = list(csv.reader((tmp_path / 'out' / 'video.retarget_left.csv').open()))
    assert len(left_rows) == 1  # header only: the left hand was never seen
    lines = [json.loads(line) for line in (tmp_path / 'out' / 'video.retarget.jsonl').open()]
    assert [line['frame'] for line in lines] == [0, 1, 3]
    for line in lines:
        assert line['side'] == 'right' and line['robot'] == 'leap_hand'
        assert all(limits[n][0] <= v <= limits[n][1] for n, v in line['joints'].items())
