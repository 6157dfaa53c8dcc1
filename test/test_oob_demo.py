"""`make demo` in small form: the real node process over DDS, photos in, outputs checked."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from interhand_ros.skeleton import SIDES

pytest.importorskip('mediapipe', reason='mediapipe (bundled hand models) not installed')

REPOSITORY = Path(__file__).resolve().parents[1]
HAND_PHOTO = REPOSITORY / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'


def _run_demo(tmp_path: Path, extra: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, '-m', 'tools.demo', '--out', str(tmp_path / 'demo'),
               '--max-frames', '2', '--startup-timeout', '90', '--frame-timeout', '60',
               '--domain-id', os.environ['ROS_DOMAIN_ID'], *extra]
    # Generous timeouts: other jobs may load the CPU; a normal run takes about 8 s.
    return subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=280)


def test_demo_plays_photos_through_the_node_and_writes_every_output(tmp_path):
    if HAND_PHOTO.exists():
        photos = []  # the demo's own default: the shared real photos
        expected_hands = 2
    else:  # no shared data here: two blank frames still exercise the whole pipeline
        folder = tmp_path / 'photos'
        folder.mkdir()
        for index in range(2):
            cv2.imwrite(str(folder / f'blank_{index}.png'), np.full((240, 320, 3), 90, np.uint8))
        photos = ['--input', str(folder)]
        expected_hands = 0
    result = _run_demo(tmp_path, photos)
    out = tmp_path / 'demo'
    assert result.returncode == 0, result.stdout + result.stderr + (
        (out / 'node.log').read_text() if (out / 'node.log').exists() else '')
    assert '2/2 frames answered' in result.stdout and 'median latency' in result.stdout
    messages = [json.loads(line) for line in (out / 'messages.jsonl').read_text().splitlines()]
    assert len(messages) == 2
    for message in messages:
        assert message['estimator'] == 1  # ESTIMATOR_LANDMARK: no checkpoint
        assert message['header']['frame_id'] == 'demo_camera_optical_frame'
        for side in SIDES:
            hand = message[side]
            if hand['detected']:
                assert all(0.05 < joint['z'] < 3.0 for joint in hand['joints'])
    found = sum(m[side]['detected'] for m in messages for side in SIDES)
    assert found == expected_hands
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['answered'] == 2 and summary['hands_found'] == expected_hands
    assert all(frame['latency_ms'] > 0 and frame['sends'] >= 1 for frame in summary['frames'])
    # re-sending is for discovery only: once the node answered, each frame goes out once
    assert all(frame['sends'] == 1 for frame in summary['frames'][1:])
    assert 'keeping the exported FASTDDS_DEFAULT_PROFILES_FILE' in result.stdout  # conftest's
    debug_images = sorted((out / 'debug').iterdir())
    plots = sorted((out / 'plot3d').iterdir())
    assert len(debug_images) == 2 and len(plots) == 2
    assert all(cv2.imread(str(path)) is not None for path in debug_images + plots)
    assert 'hands node ready' in (out / 'node.log').read_text()


@pytest.mark.skipif(not HAND_PHOTO.exists(), reason=f'{HAND_PHOTO} is absent')
def test_demo_gets_every_large_photo_through_with_the_profile(tmp_path, monkeypatch):
    """640x480 rgb8 (921,600 bytes: over Fast DDS's default 512 KB shared-memory segment) three
    times: with the demo's default --dds-profile each is answered, sent once after the first."""
    folder = tmp_path / 'photos'
    folder.mkdir()
    for index in range(3):
        (folder / f'hand_{index}.jpg').write_bytes(HAND_PHOTO.read_bytes())
    monkeypatch.delenv('FASTDDS_DEFAULT_PROFILES_FILE')  # the demo's own default applies
    result = _run_demo(tmp_path, ['--input', str(folder), '--max-frames', '3'])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"FASTDDS_DEFAULT_PROFILES_FILE={REPOSITORY / 'config' / 'fastdds.xml'}" in result.stdout
    summary = json.loads((tmp_path / 'demo' / 'summary.json').read_text())
    assert summary['answered'] == 3
    assert [frame['sends'] for frame in summary['frames'][1:]] == [1, 1]


def test_demo_reports_a_missing_checkpoint_clearly(tmp_path):
    result = _run_demo(tmp_path, ['--checkpoint', str(tmp_path / 'absent.pth.tar')])
    assert result.returncode == 1
    assert 'does not exist' in result.stderr


def test_photos_come_from_input_then_shared_data_then_the_opencv_doc_cache(tmp_path,
                                                                           monkeypatch):
    from tools import demo
    monkeypatch.setattr(demo, 'SHARED_DATA', tmp_path / 'no_shared_data')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    cached = tmp_path / 'cache' / 'interhand_ros' / 'demo_photos'
    cached.mkdir(parents=True)
    for name in demo.OPENCV_DOC_PHOTOS:  # already fetched: no download
        cv2.imwrite(str(cached / name), np.zeros((8, 8, 3), np.uint8))
    assert demo.find_photos(None) == [cached / name for name in demo.OPENCV_DOC_PHOTOS]
    user = tmp_path / 'mine'
    user.mkdir()
    cv2.imwrite(str(user / 'b.png'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(user / 'a.jpg'), np.zeros((8, 8, 3), np.uint8))
    assert demo.find_photos(user) == [user / 'a.jpg', user / 'b.png']
    with pytest.raises(demo.DemoError, match='does not exist'):
        demo.find_photos(tmp_path / 'absent.mp4')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(demo.DemoError, match='no images'):
        demo.find_photos(tmp_path / 'empty')
