"""interhand-run on a generated video, image folder and ROS 2 bags (written with rosbags)."""
import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from teleop_support import URDF_DIR, urdf_limits

from interhand_ros.runner.bag import MARKER_TOPIC, POSE_TOPIC
from interhand_ros.runner.cli import main
from interhand_ros.runner.outputs import CSV_COLUMNS
from interhand_ros.skeleton import SIDES

pytest.importorskip('mediapipe', reason='mediapipe (bundled hand models) not installed')

DATA = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data'
HAND_PHOTO = DATA / 'hands' / 'handSrc.jpg'
PALM_PHOTO = DATA / 'hands' / 'Histogram_Comparison_Source_0.jpg'
FRAMES = 4
IMAGE_TOPIC, INFO_TOPIC = '/camera/color/image_raw', '/camera/color/camera_info'
DEPTH_TOPIC = '/camera/aligned_depth_to_color/image_raw'


def _frames() -> list[np.ndarray]:
    """BGR frames: the real hand photo when shared data is present, else a blank desk."""
    if HAND_PHOTO.exists():
        photo = cv2.imread(str(HAND_PHOTO))
    else:
        photo = np.full((480, 640, 3), 200, np.uint8)
    return [np.roll(photo, 4 * i, axis=1) for i in range(FRAMES)]


def _hands_expected() -> int:
    return 1 if HAND_PHOTO.exists() else 0


def _read_outputs(out: Path) -> tuple[list[dict], list[dict]]:
    records = [json.loads(line) for line in (out / 'poses.jsonl').read_text().splitlines()]
    with open(out / 'poses.csv', newline='') as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == CSV_COLUMNS
    return records, rows


def _check_poses(records: list[dict], rows: list[dict]) -> None:
    assert [r['frame'] for r in records] == list(range(FRAMES))
    assert len(rows) == 2 * FRAMES  # one row per hand per frame
    for record in records:
        assert record['estimator'] == 1  # ESTIMATOR_LANDMARK
        detected = [record[side] for side in SIDES if record[side]['detected']]
        assert len(detected) == _hands_expected()
        for hand in detected:
            z = [joint['z'] for joint in hand['joints']]
            assert len(z) == 21 and all(0.05 < value < 3.0 for value in z)
    detected_rows = [row for row in rows if row['detected'] == '1']
    assert len(detected_rows) == _hands_expected() * FRAMES
    for row in detected_rows:
        assert 0.05 < float(row['wrist_z']) < 3.0 and row['depth_source'] == 'pnp'


def test_runner_on_a_video(tmp_path):
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10, (640, 480))
    for frame in _frames():
        writer.write(frame)
    writer.release()
    out = tmp_path / 'out'
    assert main([str(video), '--out', str(out)]) == 0
    records, rows = _read_outputs(out)
    _check_poses(records, rows)
    assert all(record['camera_guessed'] for record in records)
    annotated = cv2.VideoCapture(str(out / 'annotated.mp4'))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    annotated.release()
    assert sorted(p.name for p in out.iterdir()) == ['annotated.mp4', 'poses.csv', 'poses.jsonl']


def test_runner_on_an_image_folder_with_a_camera_yaml(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for index, frame in enumerate(_frames()):
        cv2.imwrite(str(folder / f'img_{index:02d}.png'), frame)
    (folder / 'notes.txt').write_text('not an image')
    calibration = tmp_path / 'camera.yaml'
    calibration.write_text(
        'image_width: 640\nimage_height: 480\ncamera_name: test\n'
        'camera_matrix: {rows: 3, cols: 3, data: [500, 0, 319.5, 0, 500, 239.5, 0, 0, 1]}\n'
        'distortion_model: plumb_bob\n'
        'distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n')
    out = tmp_path / 'out'
    assert main([str(folder), '--camera-info', str(calibration), '--out', str(out)]) == 0
    records, rows = _read_outputs(out)
    _check_poses(records, rows)
    assert not any(record['camera_guessed'] for record in records)
    assert [record['name'] for record in records] == [f'img_{i:02d}.png' for i in range(FRAMES)]
    assert sorted(p.name for p in (out / 'annotated').iterdir()) == [
        f'img_{i:02d}.jpg' for i in range(FRAMES)]


def _write_bag(path: Path, storage: str, depth_mm: int = 0, bad_frames: tuple = (),
               count: int = FRAMES) -> None:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    Image, CameraInfo = store.types['sensor_msgs/msg/Image'], store.types[
        'sensor_msgs/msg/CameraInfo']
    Header, Time = store.types['std_msgs/msg/Header'], store.types['builtin_interfaces/msg/Time']
    RegionOfInterest = store.types['sensor_msgs/msg/RegionOfInterest']
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        images = writer.add_connection(IMAGE_TOPIC, Image.__msgtype__, typestore=store)
        infos = writer.add_connection(INFO_TOPIC, CameraInfo.__msgtype__, typestore=store)
        depths = writer.add_connection(DEPTH_TOPIC, Image.__msgtype__, typestore=store)
        for index, bgr in enumerate(_frames()[:count]):
            stamp_ns = 1_700_000_000_000_000_000 + index * 100_000_000
            header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                            frame_id='camera_color_optical_frame')
            info = CameraInfo(
                header=header, height=480, width=640, distortion_model='plumb_bob',
                d=np.zeros(5), k=np.array([0.0 if index in bad_frames else 500.0, 0, 319.5, 0,
                                           500, 239.5, 0, 0, 1]),
                r=np.eye(3).ravel(), p=np.array([500.0, 0, 319.5, 0, 0, 500, 239.5, 0, 0, 0, 1,
                                                 0]),
                binning_x=0, binning_y=0,
                roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0,
                                     do_rectify=False))
            encoding = '8UC5' if index + 1 in bad_frames else 'bgr8'  # unsupported
            image = Image(header=header, height=480, width=640, encoding=encoding, is_bigendian=0,
                          step=640 * 3, data=np.ascontiguousarray(bgr).ravel())
            writer.write(infos, stamp_ns, store.serialize_cdr(info, CameraInfo.__msgtype__))
            writer.write(images, stamp_ns, store.serialize_cdr(image, Image.__msgtype__))
            if depth_mm:
                depth = Image(header=header, height=480, width=640, encoding='16UC1',
                              is_bigendian=0, step=640 * 2,
                              data=np.full((480, 640), depth_mm, '<u2').view(np.uint8).ravel())
                writer.write(depths, stamp_ns, store.serialize_cdr(depth, Image.__msgtype__))


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_runner_on_a_bag_adds_pose_and_marker_topics(tmp_path, storage):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore
    bag = tmp_path / 'session'
    _write_bag(bag, storage)
    out = tmp_path / 'out'
    assert main([str(bag), '--out', str(out)]) == 0
    records, rows = _read_outputs(out)
    _check_poses(records, rows)
    assert not any(record['camera_guessed'] for record in records)
    assert records[0]['header']['frame_id'] == 'camera_color_optical_frame'
    assert records[1]['header']['stamp'] == {'sec': 1_700_000_000, 'nanosec': 100_000_000}
    result = out / 'session_hands'
    with AnyReader([result], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {IMAGE_TOPIC: FRAMES, INFO_TOPIC: FRAMES, DEPTH_TOPIC: 0,
                          POSE_TOPIC: FRAMES, MARKER_TOPIC: FRAMES}
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types[POSE_TOPIC] == 'interhand_msgs/msg/TwoHandPose'
        pose_connection = [c for c in reader.connections if c.topic == POSE_TOPIC]
        poses = [reader.deserialize(raw, c.msgtype)
                 for c, _, raw in reader.messages(connections=pose_connection)]
    assert [p.header.frame_id for p in poses] == ['camera_color_optical_frame'] * FRAMES
    assert sum(p.right.detected + p.left.detected for p in poses) == _hands_expected() * FRAMES
    assert any(f.suffix == ('.mcap' if storage == 'mcap' else '.db3') for f in result.iterdir())


def test_runner_skips_bad_frames_of_a_bag(tmp_path):
    bag = tmp_path / 'session'
    _write_bag(bag, 'sqlite3', bad_frames=(1,))  # frame 1: uncalibrated, frame 0: bad encoding
    out = tmp_path / 'out'
    assert main([str(bag), '--out', str(out)]) == 0
    records = [json.loads(line) for line in (out / 'poses.jsonl').read_text().splitlines()]
    assert [record['frame'] for record in records] == [1, 2]  # frame 0 of the bag never decoded
    stamps = [record['header']['stamp']['nanosec'] for record in records]
    assert stamps == [200_000_000, 300_000_000]


def test_runner_uses_the_bag_depth_topic(tmp_path):
    bag = tmp_path / 'session'
    _write_bag(bag, 'sqlite3', depth_mm=650)
    out = tmp_path / 'out'
    assert main([str(bag), '--depth', DEPTH_TOPIC, '--out', str(out)]) == 0
    records, rows = _read_outputs(out)
    assert len(records) == FRAMES
    for row in rows:
        if row['detected'] == '1':
            assert row['depth_source'] == 'depth_image'
            assert float(row['wrist_z']) == pytest.approx(0.65, abs=0.04)
    assert main([str(bag), '--depth', '/no/such/topic', '--out', str(tmp_path / 'x')]) == 2


def test_runner_uses_a_depth_folder_next_to_an_image_folder(tmp_path):
    images, depths = tmp_path / 'images', tmp_path / 'depth'
    images.mkdir()
    depths.mkdir()
    for index, frame in enumerate(_frames()[:2]):
        cv2.imwrite(str(images / f'{index}.jpg'), frame)
        cv2.imwrite(str(depths / f'{index}.png'), np.full(frame.shape[:2], 900, np.uint16))
    out = tmp_path / 'out'
    assert main([str(images), '--depth', str(depths), '--out', str(out)]) == 0
    records = [json.loads(line) for line in (out / 'poses.jsonl').read_text().splitlines()]
    detected = [r[side] for r in records for side in SIDES if r[side]['detected']]
    assert len(detected) == 2 * _hands_expected()
    for hand in detected:
        assert hand['depth_source'] == 1  # DEPTH_IMAGE
        assert hand['wrist_pose']['position']['z'] == pytest.approx(0.9, abs=0.05)


@pytest.mark.parametrize('name', ['missing.mp4', 'broken.mp4', 'empty_folder'])
def test_runner_rejects_unreadable_input_and_leaves_nothing(tmp_path, name, capsys):
    source = tmp_path / name
    if name == 'broken.mp4':
        source.write_bytes(b'this is not a video')
    elif name == 'empty_folder':
        source.mkdir()
    out = tmp_path / 'out'
    assert main([str(source), '--out', str(out)]) == 2
    assert not out.exists() or not any(out.iterdir())


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """An InterNet checkpoint with random weights: exercises the InterNet path, not accuracy."""
    torch = pytest.importorskip('torch')
    from interhand_ros.engine.model import InterNet
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('checkpoint') / 'random_internet.pth.tar'
    torch.save({'network': InterNet().state_dict()}, path)
    return path


def test_runner_with_a_checkpoint_runs_internet_on_the_detector_crop(tmp_path, random_checkpoint):
    folder = tmp_path / 'images'
    folder.mkdir()
    canvas = np.full((480, 640, 3), 128, np.uint8)  # a small hand in a larger frame
    if PALM_PHOTO.exists():
        canvas[150:350, 300:500] = cv2.imread(str(PALM_PHOTO))
    cv2.imwrite(str(folder / 'hand.png'), canvas)
    out = tmp_path / 'out'
    assert main([str(folder), '--checkpoint', str(random_checkpoint), '--device', 'cpu',
                 '--out', str(out)]) == 0
    [record] = [json.loads(line) for line in (out / 'poses.jsonl').read_text().splitlines()]
    assert record['estimator'] == 0  # ESTIMATOR_INTERNET
    roi = record['roi']
    if PALM_PHOTO.exists():  # the detector's roi holds the pasted hand, not the whole frame
        x0, y0 = roi['x_offset'], roi['y_offset']
        x1, y1 = x0 + roi['width'], y0 + roi['height']
        assert x0 <= 310 and x1 >= 490 and y0 <= 160 and y1 >= 340
        assert roi['width'] < 400 and roi['height'] < 400
    else:  # nothing detected: the whole image
        assert (roi['width'], roi['height']) == (640, 480)


def _bag_messages(bag: Path, topic: str, msg_type: type) -> list:
    """The bag's messages of one topic as rclpy messages (the very bytes the bag holds)."""
    from rclpy.serialization import deserialize_message
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        wanted = [c for c in reader.connections if c.topic == topic]
        return [deserialize_message(raw, msg_type) for _, _, raw in reader.messages(wanted)]


def _content(pose: dict) -> dict:
    """A TwoHandPose as JSON data without what legitimately differs between two runs."""
    return {key: value for key, value in pose.items()
            if key not in ('inference_time', 'frame', 'name', 'camera_guessed')}


def test_runner_and_node_publish_identical_poses_for_the_same_frames(tmp_path,
                                                                     random_checkpoint):
    """interhand-run is the node's engine: same checkpoint, camera_info and settings, same
    TwoHandPose field by field (stamps included; only the measured inference time differs)."""
    import rclpy
    from sensor_msgs.msg import CameraInfo, Image

    from interhand_ros.processing.factory import build_estimator
    from interhand_ros.runner.outputs import message_to_dict
    from interhand_ros.settings import DEFAULTS, estimator_settings

    from test_node_ros import Harness

    bag = tmp_path / 'session'
    _write_bag(bag, 'sqlite3', count=2)
    out = tmp_path / 'out'
    # the node's defaults: roi.mode detector, depth.mode hand_size, presence 0.5, fp32
    assert main([str(bag), '--checkpoint', str(random_checkpoint), '--device', 'cpu',
                 '--roi', 'detector', '--depth-mode', 'hand_size', '--out', str(out)]) == 0
    ran = [_content(json.loads(line)) for line in (out / 'poses.jsonl').read_text().splitlines()]

    params = dict(DEFAULTS, checkpoint=str(random_checkpoint), device='cpu')
    rclpy.init()
    try:
        harness = Harness(build_estimator(estimator_settings(params), print))
        try:
            published = []
            for image, info in zip(_bag_messages(bag, IMAGE_TOPIC, Image),
                                   _bag_messages(bag, INFO_TOPIC, CameraInfo)):
                harness.send(image, info)
                published.append(harness.wait_for_stamp(image.header.stamp, timeout=60.0))
        finally:
            harness.close()
    finally:
        rclpy.shutdown()
    assert len(ran) == len(published) == 2
    assert [r['estimator'] for r in ran] == [0, 0]  # ESTIMATOR_INTERNET
    assert ran == [_content(message_to_dict(msg)) for msg in published]


def test_runner_reads_compressed_bag_images_and_skips_a_truncated_one(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    Compressed = store.types['sensor_msgs/msg/CompressedImage']
    Header, Time = store.types['std_msgs/msg/Header'], store.types['builtin_interfaces/msg/Time']
    bag = tmp_path / 'compressed'
    with Writer(bag, version=9) as writer:
        images = writer.add_connection('/camera/image_raw/compressed', Compressed.__msgtype__,
                                       typestore=store)
        for index, bgr in enumerate(_frames()[:3]):
            data = cv2.imencode('.jpg', bgr)[1].ravel()
            if index == 1:
                data = data[:len(data) // 2]  # truncated in transit
            stamp_ns = 1_700_000_000_000_000_000 + index * 100_000_000
            header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                            frame_id='camera_color_optical_frame')
            writer.write(images, stamp_ns, store.serialize_cdr(
                Compressed(header=header, format='jpeg', data=data), Compressed.__msgtype__))
    out = tmp_path / 'out'
    assert main([str(bag), '--out', str(out)]) == 0
    records = [json.loads(line) for line in (out / 'poses.jsonl').read_text().splitlines()]
    assert [r['header']['stamp']['nanosec'] for r in records] == [0, 200_000_000]
    assert all(r['camera_guessed'] for r in records)  # the bag has no CameraInfo
    detected = sum(r[side]['detected'] for r in records for side in SIDES)
    assert detected == 2 * _hands_expected()


@pytest.mark.skipif(not HAND_PHOTO.exists() or not URDF_DIR.exists(),
                    reason='needs the hand photo and the robot URDFs of ../shared/data')
def test_runner_writes_robot_hand_trajectories_inside_the_urdf_limits(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for index, frame in enumerate(_frames()):
        cv2.imwrite(str(folder / f'img_{index:02d}.png'), frame)
    out = tmp_path / 'out'
    assert main([str(folder), '--out', str(out), '--retarget', 'leap_hand',
                 '--urdf-dir', str(URDF_DIR)]) == 0
    records, _ = _read_outputs(out)
    sides = {side for record in records for side in SIDES if record[side]['detected']}
    assert len(sides) == 1, 'the photo shows one hand'
    side = sides.pop()
    limits = urdf_limits('leap_hand', side)
    with open(out / f'images.retarget_{side}.csv', newline='') as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == FRAMES and set(rows[0]) == {'frame', 'stamp', *limits}
    assert len(limits) == 16
    for row in rows:
        for joint, (lower, upper) in limits.items():
            assert lower - 1e-6 <= float(row[joint]) <= upper + 1e-6, (joint, row[joint])
    lines = [json.loads(line) for line in (out / 'images.retarget.jsonl').read_text().splitlines()]
    assert [line['frame'] for line in lines] == list(range(FRAMES))
    assert all(line['side'] == side and line['robot'] == 'leap_hand' for line in lines)


def test_runner_refuses_retargeting_without_urdfs_and_leaves_nothing(tmp_path):
    out = tmp_path / 'out'
    video = tmp_path / 'clip.mp4'
    video.write_bytes(b'')
    assert main([str(video), '--out', str(out), '--retarget', 'leap_hand']) == 2
    assert not out.exists() or not any(out.iterdir())
