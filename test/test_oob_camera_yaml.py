"""camera_calibration YAML loading and the field-of-view guess, read by CameraModel."""
import math

import pytest

from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.camera_yaml import (
    CameraYamlError,
    guess_camera_info,
    load_camera_yaml,
)

CALIBRATION = """image_width: 1280
image_height: 720
camera_name: head_camera
camera_matrix:
  rows: 3
  cols: 3
  data: [910.5, 0, 640.2, 0, 909.8, 361.7, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.2, 0.001, 0.002, 0.05]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [900.0, 0, 641.0, 0, 0, 901.0, 362.0, 0, 0, 0, 1, 0]
"""


def test_calibration_yaml_gives_raw_and_rectified_cameras(tmp_path):
    path = tmp_path / 'head_camera.yaml'
    path.write_text(CALIBRATION)
    info = load_camera_yaml(path)
    raw = CameraModel.from_camera_info(info, rectified=False)
    assert (raw.fx, raw.fy, raw.cx, raw.cy) == (910.5, 909.8, 640.2, 361.7)
    assert (raw.width, raw.height) == (1280, 720)
    assert list(raw.distortion) == [0.1, -0.2, 0.001, 0.002, 0.05]
    rectified = CameraModel.from_camera_info(info, rectified=True)
    assert (rectified.fx, rectified.fy, rectified.cx, rectified.cy) == (900, 901, 641, 362)
    assert rectified.distortion is None


def test_yaml_without_projection_uses_k(tmp_path):
    path = tmp_path / 'minimal.yaml'
    path.write_text('image_width: 640\nimage_height: 480\n'
                    'camera_matrix: {data: [500, 0, 320, 0, 501, 240, 0, 0, 1]}\n')
    camera = CameraModel.from_camera_info(load_camera_yaml(path), rectified=True)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (500, 501, 320, 240)


@pytest.mark.parametrize('text, reason', [
    ('image_width: 640\nimage_height: 480\n', 'camera_matrix'),
    ('image_width: 640\nimage_height: 480\ncamera_matrix: {data: [1, 2, 3]}\n', '9 numbers'),
    ('- just\n- a list\n', 'mapping'),
    ('image_width: [unclosed\n', 'cannot read'),
])
def test_bad_yaml_names_the_problem(tmp_path, text, reason):
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(CameraYamlError, match=reason):
        load_camera_yaml(path)


def test_missing_yaml_is_a_clear_error(tmp_path):
    with pytest.raises(CameraYamlError, match='cannot read'):
        load_camera_yaml(tmp_path / 'absent.yaml')


def test_field_of_view_guess():
    camera = CameraModel.from_camera_info(guess_camera_info(640, 480, 90.0), rectified=False)
    assert camera.fx == pytest.approx(320.0) and camera.fy == pytest.approx(320.0)
    assert (camera.cx, camera.cy) == (319.5, 239.5)
    narrow = guess_camera_info(640, 480, 30.0)
    assert narrow.k[0] == pytest.approx(320.0 / math.tan(math.radians(15.0)))
    for bad in [(0, 480, 60.0), (640, 480, 0.0), (640, 480, 180.0)]:
        with pytest.raises(ValueError):
            guess_camera_info(*bad)
