"""The calibration's maths without rendering: corners projected from known cameras
(tools/charuco_render.projected_detection) through calibration/solve.calibrate, and the
extrinsics YAML and board flags refused when malformed."""
from __future__ import annotations

import numpy as np
import pytest

from interhand_ros.calibration.board import BoardError, BoardSpec
from interhand_ros.calibration.extrinsics_yaml import (
    CameraExtrinsics,
    Extrinsics,
    ExtrinsicsError,
    read_extrinsics,
    write_extrinsics,
)
from interhand_ros.calibration.intrinsics import CalibrationError
from interhand_ros.calibration.report import format_report, tilt_range_deg
from interhand_ros.calibration.solve import CameraViews, calibrate, world_from_board
from interhand_ros.geometry.transforms import invert
from tools.charuco_render import make_scene, projected_detection, relative_error

SPEC = BoardSpec.parse('7x5', 0.05, 0.037)


def views_of(rig, poses, rng, visible=None, noise_px=0.1, lens_given=True):
    """CameraViews of projected corners; visible[camera] limits the pose indices it sees."""
    result = []
    for camera in rig:
        detections = {}
        for index, pose in enumerate(poses):
            if visible is not None and index not in visible[camera.name]:
                continue
            found = projected_detection(SPEC, camera, pose, rng, noise_px)
            if found is not None:
                detections[index] = found
        result.append(CameraViews(camera.name, f'{camera.name}_optical_frame',
                                  (camera.lens.width, camera.lens.height), detections,
                                  len(poses), camera.lens if lens_given else None))
    return result


def test_a_camera_is_placed_through_the_one_it_shares_views_with():
    """cam1 and cam3 never see the board together; both share views with cam2."""
    rng = np.random.default_rng(3)
    rig, poses = make_scene(SPEC, rng, poses=24)
    visible = {'cam1': set(range(0, 12)), 'cam2': set(range(24)), 'cam3': set(range(12, 24))}
    result = calibrate(SPEC, views_of(rig, poses, rng, visible))
    assert result.shared[('cam1', 'cam3')] == 0 and result.shared[('cam1', 'cam2')] > 5
    truth = {camera.name: camera.pose for camera in rig}
    shift, turn = relative_error(truth['cam1'], truth['cam3'], result.cameras['cam1'].pose,
                                 result.cameras['cam3'].pose)
    assert shift < 0.002 and turn < 0.1


def test_world_frame_is_the_first_shared_board_pose_with_z_out_of_its_face():
    rng = np.random.default_rng(4)
    rig, poses = make_scene(SPEC, rng, poses=12)
    result = calibrate(SPEC, views_of(rig, poses, rng))
    first = min(result.board_poses)
    # The first board pose is the world (through the board -> world convention) ...
    assert np.allclose(result.board_poses[first] @ world_from_board(SPEC), np.eye(4),
                       atol=1e-9)
    # ... so every camera, in front of the board's printed face, has z > 0 in the world.
    truth_world = invert(poses[first] @ world_from_board(SPEC))
    for camera in rig:
        found = result.cameras[camera.name].pose
        assert found[2, 3] > 0.3
        assert np.linalg.norm(found[:3, 3] - (truth_world @ camera.pose)[:3, 3]) < 0.003


def test_outlying_corners_do_not_pull_the_adjustment():
    rng = np.random.default_rng(5)
    rig, poses = make_scene(SPEC, rng, poses=16)
    views = views_of(rig, poses, rng)
    for detection in list(views[1].detections.values())[::3]:  # a bad corner in some views
        detection.corners[0] += (25.0, -18.0)
    result = calibrate(SPEC, views)
    truth = {camera.name: camera.pose for camera in rig}
    shift, turn = relative_error(truth['cam1'], truth['cam2'], result.cameras['cam1'].pose,
                                 result.cameras['cam2'].pose)
    assert shift < 0.002 and turn < 0.1
    assert np.percentile(result.cameras['cam2'].errors_px, 99) > 20  # still seen as outliers


def test_views_all_alike_are_warned_about():
    rng = np.random.default_rng(6)
    rig, poses = make_scene(SPEC, rng, poses=8, tilt_deg=2.0, spread_m=0.02)
    result = calibrate(SPEC, views_of(rig, poses, rng))
    report = format_report(result)
    assert 'too similar views' in report and 'only 8 board views' in report
    assert tilt_range_deg([np.eye(4)] * 3) == 0.0


def test_too_few_views_for_a_lens_are_named():
    rng = np.random.default_rng(8)
    rig, poses = make_scene(SPEC, rng, poses=3)
    with pytest.raises(CalibrationError, match='cam1: only 3 views .* for intrinsics'):
        calibrate(SPEC, views_of(rig, poses, rng, lens_given=False))


def test_extrinsics_yaml_round_trip_and_refusals(tmp_path):
    rig = Extrinsics('world', {'a': CameraExtrinsics('a_optical', (1.0, 2.0, 3.0),
                                                     (0.0, 0.0, 0.6, 0.8), 0.25)})
    path = tmp_path / 'rig.yaml'
    write_extrinsics(path, rig)
    assert read_extrinsics(path) == rig
    for text, reason in [
        ('cameras: {}\n', 'non-empty cameras'),
        ('world_frame: world\ncameras:\n  a: {frame_id: world, translation: [0, 0, 0], '
         'rotation: [0, 0, 0, 1]}\n', 'different from world_frame'),
        ('world_frame: w\ncameras:\n  a: {frame_id: x, translation: [0, 0, .nan], '
         'rotation: [0, 0, 0, 1]}\n', 'non-finite'),
    ]:
        path.write_text(text)
        with pytest.raises(ExtrinsicsError, match=reason):
            read_extrinsics(path)


@pytest.mark.parametrize('flags, reason', [
    (('7-5', 0.05, 0.037), 'COLUMNSxROWS'),
    (('7x5', 0.05, 0.06), 'must be smaller than the square'),
    (('7x5', 0.05, 0.037, 'DICT_NOPE'), 'unknown ArUco dictionary'),
    (('20x20', 0.05, 0.037, 'DICT_4X4_50'), 'need 200 markers'),
    (('7x5', 50.0, 37.0), 'in metres'),
])
def test_board_flags_are_checked(flags, reason):
    with pytest.raises(BoardError, match=reason):
        BoardSpec.parse(*flags)
