"""dex-retargeting wrapper (interhand_ros.teleop.retargeting) on the dex-urdf robot hands and
on a robot of the test's own (a two-finger URDF and a position config written here)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from custom_robot import TWO_FINGER_LIMITS, two_finger_robot
from teleop_support import URDF_DIR, urdf_limits

from interhand_ros.geometry.wrist_frame import joints_in_wrist_frame
from interhand_ros.skeleton import SIDES
from interhand_ros.teleop.retargeting import (
    HandRetargeter,
    RetargetingError,
    bundled_config,
    robot_argument,
    robot_names,
)
from tools.synthetic_hands import hand_joints

pytestmark = pytest.mark.skipif(not URDF_DIR.is_dir(),
                                reason=f'{URDF_DIR} absent (robot URDFs for tests)')
pytest.importorskip('dex_retargeting.retargeting_config')


def wrist_joints(side: str, curl: float = 0.26) -> np.ndarray:
    return joints_in_wrist_frame(hand_joints(side, curl=curl), side)


@pytest.mark.parametrize('robot', robot_names())
@pytest.mark.parametrize('side', SIDES)
def test_every_robot_gives_urdf_joint_names_inside_the_urdf_limits(robot, side):
    """Every robot dex-retargeting names, where its URDF is in the test data (five of them)."""
    urdf = URDF_DIR / robot / f'{robot}_{side}.urdf'
    if not urdf.is_file():
        pytest.skip(f'{urdf} is not in the test data')
    retargeter = HandRetargeter(side, URDF_DIR, robot=robot)
    assert retargeter.robot == robot
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
    retargeter = HandRetargeter(side, URDF_DIR, robot='leap_hand', retargeting_type=kind)
    flexion = {}
    for curl in (0.05, 0.5):
        retargeter.reset()
        for step in range(5):
            positions = retargeter.retarget(wrist_joints(side, curl), step / 30)
        flexion[curl] = dict(zip(retargeter.joint_names, positions))
    for mcp in ('1', '5', '9'):  # LEAP index, middle, ring MCP flexion
        assert flexion[0.5][mcp] - flexion[0.05][mcp] > 0.3, mcp


def test_position_retargeting_publishes_the_hand_joints_not_its_free_base():
    retargeter = HandRetargeter('right', URDF_DIR, robot='leap_hand',
                                 retargeting_type='position')
    assert set(retargeter.joint_names) == set(urdf_limits('leap_hand', 'right'))
    assert retargeter.retarget(wrist_joints('right'), 0.0).shape == (16,)


def test_velocity_limit_bounds_each_step_in_stamp_time():
    retargeter = HandRetargeter('right', URDF_DIR, robot='leap_hand', max_velocity=1.0)
    first = retargeter.retarget(wrist_joints('right', 0.05), 0.0)
    second = retargeter.retarget(wrist_joints('right', 0.7), 0.1)
    assert np.abs(second - first).max() <= 0.1 + 1e-9
    free = HandRetargeter('right', URDF_DIR, robot='leap_hand')
    free.retarget(wrist_joints('right', 0.05), 0.0)
    assert np.abs(free.retarget(wrist_joints('right', 0.7), 0.1) - first).max() > 0.1


def test_bad_inputs_and_settings_name_the_problem(tmp_path):
    with pytest.raises(RetargetingError, match='unknown robot'):
        HandRetargeter('right', URDF_DIR, robot='r2d2_hand')
    with pytest.raises(RetargetingError, match='retargeting type'):
        HandRetargeter('right', URDF_DIR, robot='leap_hand', retargeting_type='magic')
    with pytest.raises(RetargetingError, match='leap_hand_right.urdf'):
        HandRetargeter('right', tmp_path, robot='leap_hand')
    with pytest.raises(RetargetingError, match='set urdf_dir'):
        HandRetargeter('right', robot='leap_hand')
    retargeter = HandRetargeter('right', URDF_DIR, robot='leap_hand')
    with pytest.raises(ValueError, match='finite'):
        retargeter.retarget(np.full((21, 3), np.nan), 0.0)


def test_robot_names_come_from_dex_retargeting():
    """Its ROBOT_NAME_MAP: also the robots this package never listed (Schunk SVH, Panda)."""
    from dex_retargeting.constants import ROBOT_NAME_MAP
    assert set(robot_names()) == set(ROBOT_NAME_MAP.values())
    assert {'leap_hand', 'schunk_svh_hand', 'panda_gripper'} <= set(robot_names())
    with pytest.raises(RetargetingError, match='schunk_svh_hand'):
        HandRetargeter('right', URDF_DIR, robot='r2d2_hand')  # the error lists them
    assert bundled_config('leap_hand', 'left', 'dexpilot').name == 'leap_hand_left_dexpilot.yml'


@pytest.mark.parametrize('side', SIDES)
def test_a_robot_of_our_own_retargets_inside_its_urdf_limits(tmp_path, side):
    config = two_finger_robot(tmp_path / 'robot')
    retargeter = HandRetargeter(side, tmp_path / 'robot', config=config)
    assert retargeter.robot == 'two_finger' and retargeter.retargeting_type == 'position'
    assert retargeter.joint_names == tuple(TWO_FINGER_LIMITS)
    flexion = {}
    for curl in (0.05, 0.5):
        retargeter.reset()
        positions = retargeter.retarget(wrist_joints(side, curl), 0.0)
        for name, value in zip(retargeter.joint_names, positions):
            lower, upper = TWO_FINGER_LIMITS[name]
            assert lower <= value <= upper, (name, value)
        flexion[curl] = positions
    # Curling the human fingers bends the robot's towards its palm (+x): every joint flexes.
    assert np.all(flexion[0.5] - flexion[0.05] > 0.1), flexion


def test_a_config_with_an_absolute_urdf_path_needs_no_urdf_dir(tmp_path):
    config = two_finger_robot(tmp_path, urdf_path=str(tmp_path / 'two_finger.urdf'))
    assert HandRetargeter('right', config=config).joint_names == tuple(TWO_FINGER_LIMITS)


def _config_text(config: Path, old: str, new: str) -> Path:
    config.write_text(config.read_text().replace(old, new))
    return config


@pytest.mark.parametrize('change, problem', [
    (lambda c: c.with_name('absent.yml'), 'absent.yml not found'),
    (lambda c: _config_text(c, 'target_link_names: [', 'target_link_names: [[:'),
     'cannot be read'),
    (lambda c: _config_text(c, 'retargeting:', 'retarget:'), "no 'retargeting:' mapping"),
    (lambda c: _config_text(c, 'urdf_path: two_finger', 'urdf_path: three_finger'),
     'three_finger.urdf .* not found'),
    (lambda c: _config_text(c, '[8, 12]', '[8, 21]'), 'joint numbers 0..20'),
    (lambda c: _config_text(c, '[8, 12]', '[8]'), 'not valid'),
    (lambda c: _config_text(c, 'low_pass_alpha: 1', 'low_pass_alfa: 1'), 'not valid'),
    (lambda c: _config_text(c, 'index_tip,', 'thumb_tip,'), 'could not build'),
])
def test_a_bad_config_is_refused_naming_the_problem(tmp_path, change, problem):
    config = change(two_finger_robot(tmp_path))
    with pytest.raises(RetargetingError, match=problem):
        HandRetargeter('right', tmp_path, config=config)


def test_a_side_takes_a_robot_name_or_a_config_never_both(tmp_path):
    config = two_finger_robot(tmp_path)
    with pytest.raises(RetargetingError, match='not both'):
        HandRetargeter('right', tmp_path, robot='leap_hand', config=config)
    with pytest.raises(RetargetingError, match='not neither'):
        HandRetargeter('right', tmp_path)
    assert robot_argument('leap_hand') == ('leap_hand', '')
    assert robot_argument(str(config)) == ('', str(config))
    assert robot_argument('tuned/leap.yaml') == ('', 'tuned/leap.yaml')  # named, then checked
    with pytest.raises(RetargetingError, match='neither a robot'):
        robot_argument('r2d2_hand')


def test_missing_dex_retargeting_is_named(monkeypatch):
    import sys
    for name in [n for n in sys.modules if n.startswith('dex_retargeting')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'dex_retargeting', None)  # import fails, as if absent
    with pytest.raises(RetargetingError, match='dex-retargeting is not installed'):
        HandRetargeter('right', URDF_DIR, robot='leap_hand')
    with pytest.raises(RetargetingError, match='dex-retargeting is not installed'):
        robot_names()


def test_trajectory_writer_writes_a_row_per_fresh_hand_with_urdf_columns(tmp_path):
    import csv
    import json

    from interhand_ros.estimate import DepthSource, EstimatorKind, HandEstimate, TwoHandEstimate
    from interhand_ros.geometry.box import Box
    from interhand_ros.teleop.trajectories import TrajectoryWriter, retargeters_for

    def frame(held: bool) -> TwoHandEstimate:
        joints = hand_joints('right')
        right = HandEstimate(side='right', presence=1.0, detected=True, joints=joints,
                             valid=np.ones(21, bool), wrist_position=joints[0], held=held)
        left = HandEstimate(side='left', presence=0.0, detected=False)
        return TwoHandEstimate(right, left, 0.0, False, np.full(3, np.nan),
                               DepthSource.HAND_SIZE, EstimatorKind.LANDMARK, Box(0, 0, 64, 48))

    retargeters = retargeters_for({side: 'leap_hand' for side in SIDES}, URDF_DIR)
    with TrajectoryWriter(tmp_path / 'out' / 'video', retargeters) as writer:
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


PHOTO = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'hands' / 'handSrc.jpg'


@pytest.mark.skipif(not PHOTO.exists(), reason=f'test photo {PHOTO} is absent')
def test_interhand_run_retargets_to_a_robot_of_our_own(tmp_path):
    import csv
    import json
    import shutil

    from interhand_ros.runner.cli import main
    config = two_finger_robot(tmp_path / 'robot')
    folder = tmp_path / 'images'
    folder.mkdir()
    for index in range(2):
        shutil.copy(PHOTO, folder / f'img_{index}.jpg')
    out = tmp_path / 'out'
    assert main([str(folder), '--out', str(out), '--retarget', str(config),
                 '--urdf-dir', str(tmp_path / 'robot')]) == 0
    lines = [json.loads(line) for line in (out / 'images.retarget.jsonl').read_text().splitlines()]
    assert [line['frame'] for line in lines] == [0, 1]  # the photo's one hand, each frame
    assert all(line['robot'] == 'two_finger' for line in lines)
    with open(out / f"images.retarget_{lines[0]['side']}.csv", newline='') as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 and list(rows[0]) == ['frame', 'stamp', *TWO_FINGER_LIMITS]
    for row in rows:
        for joint, (lower, upper) in TWO_FINGER_LIMITS.items():
            assert lower - 1e-6 <= float(row[joint]) <= upper + 1e-6, (joint, row[joint])


def test_interhand_run_refuses_an_unusable_robot_up_front_and_leaves_nothing(tmp_path):
    from interhand_ros.runner.cli import main
    out = tmp_path / 'out'
    video = tmp_path / 'clip.mp4'
    video.write_bytes(b'')
    assert main([str(video), '--out', str(out), '--retarget', 'r2d2_hand']) == 2
    assert main([str(video), '--out', str(out), '--retarget-left', str(tmp_path / 'no.yml'),
                 '--urdf-dir', str(tmp_path)]) == 2
    assert not out.exists()
