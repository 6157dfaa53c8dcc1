"""interhand-calibrate --live over real DDS: three camera processes (tools/charuco_camera.py)
play rendered views of a board from known cameras, with their camera_info; the calibration, a
process of its own, grabs the moments where at least two cameras see the board and recovers
the rig, using the cameras' own lenses and frame ids."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from interhand_ros.calibration.board import BoardSpec
from interhand_ros.calibration.extrinsics_yaml import read_extrinsics, write_camera_yaml
from tools.charuco_render import BoardRenderer, make_scene, relative_error, write_views

REPO = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / 'interhand-calibrate'
SPEC = BoardSpec.parse('7x5', 0.05, 0.037)
POSES, VIEWS = 10, 8
TRANSLATION_M, ROTATION_DEG = 0.005, 0.3   # the true lenses come with camera_info
DEADLINE_S = 240                           # start-up, discovery and grabbing on 2 busy cores


@pytest.fixture
def cameras(tmp_path):
    """Three camera processes playing their rendered views (same stamps for the same pose)."""
    rng = np.random.default_rng(11)
    rig, poses = make_scene(SPEC, rng, poses=POSES, size=(640, 480), focal=500.0,
                            distance_m=0.8, spread_m=0.08)
    folders = write_views(tmp_path / 'views', BoardRenderer(SPEC), rig, poses, rng)
    start_ns = time.time_ns() + 2_000_000_000
    processes = []
    for camera in rig:
        info = tmp_path / f'{camera.name}_info.yaml'
        write_camera_yaml(info, camera.name, camera.lens)
        log = open(tmp_path / f'{camera.name}.log', 'w')  # noqa: SIM115 - closed with it
        processes.append(subprocess.Popen(
            [sys.executable, '-m', 'tools.charuco_camera', '--folder', str(folders[camera.name]),
             '--namespace', f'/{camera.name}', '--camera-info', str(info),
             '--start-ns', str(start_ns), '--period', '0.25'],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    yield rig
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_live_cameras_are_calibrated_from_their_topics(cameras, tmp_path):
    out = tmp_path / 'rig.yaml'
    result = subprocess.run(
        [str(CLI), '--board', '7x5', '--square', '0.05', '--marker', '0.037',
         '--live', '/cam1', '/cam2', 'cam3=/cam3/image_raw', '--views', str(VIEWS),
         '--timeout', str(DEADLINE_S - 60), '--out', str(out)],
        capture_output=True, text=True, timeout=DEADLINE_S,
        env=dict(os.environ, OPENBLAS_NUM_THREADS='1'))  # as test_calibration_cli.ENV
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'view {VIEWS}/{VIEWS}' in result.stderr  # stopped once it had its views
    found = read_extrinsics(out)
    for name, camera in found.cameras.items():
        assert camera.frame_id == f'{name}_color_optical_frame'  # the images' header
        assert camera.intrinsics is None  # the camera_info's lens was used
    truth = {camera.name: camera.pose for camera in cameras}
    for name in ('cam2', 'cam3'):
        shift, turn = relative_error(truth['cam1'], truth[name], found.cameras['cam1'].matrix(),
                                     found.cameras[name].matrix())
        assert shift < TRANSLATION_M and turn < ROTATION_DEG, (name, shift, turn)


def test_a_camera_with_no_images_is_named(tmp_path):
    result = subprocess.run(
        [str(CLI), '--board', '7x5', '--square', '0.05', '--marker', '0.037',
         '--live', '/nothing_here_1', '/nothing_here_2', '--timeout', '3',
         '--out', str(tmp_path / 'x.yaml')], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert 'nothing_here_1, nothing_here_2: no image arrived' in result.stderr
