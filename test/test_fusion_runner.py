"""interhand-run --views: a bag of two cameras (images, camera_info, /tf_static) -> fused poses.

The bag holds the stereo pair of test_fusion_launch.py (the real photo, and the photo moved
left by the disparity of a hand 0.5 m in front of a 5 cm baseline), both cameras placed 5 m
from the world origin by /tf_static: fused hands near (5, 0, 0.5) need the bag's transforms,
both views and the triangulation, as the fusion node does it live.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from interhand_ros.runner.cli import main

pytest.importorskip('mediapipe', reason='mediapipe (bundled hand models) not installed')

PHOTO = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data' / 'hands' / 'handSrc.jpg'
pytestmark = pytest.mark.skipif(not PHOTO.exists(), reason=f'test photo {PHOTO} is absent')
FRAMES, FOCAL, SHIFT_PX = 3, 600.0, 60  # 600 px * 0.05 m / 0.5 m
RIG = np.array([5.0, 0.0, 0.0])
START_NS = 1_700_000_000_000_000_000


def write_bag(path: Path, with_tf: bool = True) -> None:
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    types = store.types
    Header, Time = types['std_msgs/msg/Header'], types['builtin_interfaces/msg/Time']
    Image, CameraInfo = types['sensor_msgs/msg/Image'], types['sensor_msgs/msg/CameraInfo']
    ROI = types['sensor_msgs/msg/RegionOfInterest']
    TF, Stamped = types['tf2_msgs/msg/TFMessage'], types['geometry_msgs/msg/TransformStamped']
    Transform, Vector3 = types['geometry_msgs/msg/Transform'], types['geometry_msgs/msg/Vector3']
    Quaternion = types['geometry_msgs/msg/Quaternion']
    photo = cv2.imread(str(PHOTO))
    shifted = np.concatenate([photo[:, SHIFT_PX:], np.repeat(photo[:, -1:], SHIFT_PX, axis=1)],
                             axis=1)

    def time(ns: int):
        return Time(sec=ns // 10**9, nanosec=ns % 10**9)

    with Writer(path, version=9) as writer:
        tf = writer.add_connection('/tf_static', TF.__msgtype__, typestore=store)
        if with_tf:
            writer.write(tf, START_NS, store.serialize_cdr(TF(transforms=[Stamped(
                header=Header(stamp=time(START_NS), frame_id='world'),
                child_frame_id=f'cam{i}_color_optical_frame',
                transform=Transform(translation=Vector3(x=RIG[0] + 0.05 * (i - 1), y=0.0, z=0.0),
                                    rotation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)))
                for i in (1, 2)]), TF.__msgtype__))
        for i, bgr in ((1, photo), (2, shifted)):
            images = writer.add_connection(f'/cam{i}/image_raw', Image.__msgtype__, typestore=store)
            infos = writer.add_connection(f'/cam{i}/camera_info', CameraInfo.__msgtype__,
                                          typestore=store)
            for index in range(FRAMES):
                stamp = START_NS + (index + 1) * 100_000_000
                header = Header(stamp=time(stamp), frame_id=f'cam{i}_color_optical_frame')
                info = CameraInfo(
                    header=header, height=480, width=640, distortion_model='plumb_bob',
                    d=np.zeros(5), k=np.array([FOCAL, 0, 320, 0, FOCAL, 240, 0, 0, 1.0]),
                    r=np.eye(3).ravel(), p=np.array([FOCAL, 0, 320, 0, 0, FOCAL, 240, 0, 0, 0,
                                                     1.0, 0]),
                    binning_x=0, binning_y=0, roi=ROI(x_offset=0, y_offset=0, height=0,
                                                      width=0, do_rectify=False))
                image = Image(header=header, height=480, width=640, encoding='bgr8',
                              is_bigendian=0, step=640 * 3, data=bgr.ravel())
                writer.write(infos, stamp, store.serialize_cdr(info, CameraInfo.__msgtype__))
                writer.write(images, stamp, store.serialize_cdr(image, Image.__msgtype__))


def test_a_two_camera_bag_gives_fused_hands_in_the_world_frame(tmp_path):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore
    bag = tmp_path / 'rig'
    write_bag(bag)
    out = tmp_path / 'out'
    assert main([str(bag), '--out', str(out), '--views', '/cam1', '/cam2']) == 0
    records = [json.loads(line) for line in (out / 'fused.jsonl').read_text().splitlines()]
    assert [r['stamp_ns'] for r in records] == [START_NS + (i + 1) * 100_000_000
                                                for i in range(FRAMES)]
    for record in records:
        assert record['views_used'] == ['/cam1', '/cam2'] and not record['rejected']
        pose = record['pose']
        assert pose['header']['frame_id'] == 'world'
        hands = [pose[side] for side in ('right', 'left') if pose[side]['detected']]
        assert hands and all(hand['depth_source'] == 6 for hand in hands)  # triangulated
        for hand in hands:
            wrist = np.array([hand['joints'][0][axis] for axis in 'xyz']) - RIG
            assert abs(wrist[0]) < 0.4 and abs(wrist[1]) < 0.4 and 0.25 < wrist[2] < 1.0
    with AnyReader([out / 'rig_fused'], default_typestore=get_typestore(Stores.ROS2_KILTED)
                   ) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts['/hands'] == FRAMES and counts['/hands/markers'] == FRAMES
    assert counts['/cam1/image_raw'] == counts['/cam2/image_raw'] == FRAMES  # copied


def test_views_need_a_bag_its_topics_and_its_transforms(tmp_path, caplog):
    bag = tmp_path / 'rig'
    write_bag(bag, with_tf=False)
    assert main([str(bag), '--out', str(tmp_path / 'a'), '--views', '/cam1', '/cam3']) == 2
    assert 'no image topic under /cam3/' in caplog.text
    assert main([str(bag), '--out', str(tmp_path / 'b'), '--views', '/cam1', '/cam2']) == 2
    assert "'cam1_color_optical_frame' never heard" in caplog.text
    assert 'no group of /cam1, /cam2 could be fused' in caplog.text
    assert main([str(bag), '--out', str(tmp_path / 'c'), '--views', '/cam1']) == 2
    assert 'at least 2 views' in caplog.text
    assert main([str(PHOTO), '--out', str(tmp_path / 'd'), '--views', '/a', '/b']) == 2
    assert '--views fuses the cameras of a ROS 2 bag' in caplog.text
    assert not any((tmp_path / name).exists() and any((tmp_path / name).iterdir())
                   for name in 'abcd')
