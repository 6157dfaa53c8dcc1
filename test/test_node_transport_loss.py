"""Images lost in transport are counted and explained: a camera in ANOTHER process publishes
1280x720 rgb8 (2.7 MB) at 30 Hz with sensor-data QoS under Fast DDS's default transports (its
environment has no FASTDDS_DEFAULT_PROFILES_FILE), to the real hands node over DDS.

A sample larger than the publisher's shared-memory segment (512 KB by default) goes over UDP
loopback in fragments and most are dropped; rclpy's message_lost event counts them. Both pairing
paths subscribe (message_filters.Subscriber passes event_callbacks on). The node runs in this
process (scripted estimator, so the CPU goes to the transport); the camera must not, or Fast
DDS would hand the samples over inside the process and lose none.

Run as a script, this file is that camera: `python test_node_transport_loss.py SECONDS`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticStatus

from test_node_ros import camera_info, image

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)

WIDTH, HEIGHT, RATE_HZ = 1280, 720, 30.0
CAMERA_SECONDS = 60.0  # the test stops the camera as soon as it has seen what it waits for
DDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'


def play_camera(seconds: float) -> None:
    """The camera process: one 1280x720 rgb8 image and its camera_info per 1/30 s."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    rclpy.init()
    node = rclpy.create_node('separate_process_camera')
    image_pub = node.create_publisher(Image, 'image', qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
    frame = image(node.get_clock().now().to_msg(), width=WIDTH, height=HEIGHT)
    next_frame = time.monotonic()
    end = next_frame + seconds
    while time.monotonic() < end:
        frame.header.stamp = node.get_clock().now().to_msg()
        info_pub.publish(camera_info(frame.header.stamp, width=WIDTH, height=HEIGHT))
        image_pub.publish(frame)
        next_frame += 1.0 / RATE_HZ
        time.sleep(max(0.0, next_frame - time.monotonic()))
    node.destroy_node()
    rclpy.shutdown()


def start_camera() -> subprocess.Popen:
    """The camera as its own process, same ROS domain, default transports."""
    env = {name: value for name, value in os.environ.items() if name != DDS_VARIABLE}
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                             str(CAMERA_SECONDS)], env=env)


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def lost_images(status: DiagnosticStatus) -> int:
    return int(values(status).get('images_lost_in_transport', 0))


def test_images_lost_between_processes_are_counted_and_explained(harness_factory, pairing,
                                                                 capfd):
    h = harness_factory(pairing=pairing, stall_timeout=0.5, log_throttle=0.5)
    log: list[str] = []

    def logged(text: str) -> bool:
        log.append(capfd.readouterr().err)
        return text in ''.join(log)
    camera = start_camera()
    try:
        h.wait_for(lambda: any(lost_images(s) for s in h.diagnostics), 60.0,
                   '/diagnostics images_lost_in_transport > 0')
        h.wait_for(lambda: logged('samples lost in transport'), 10.0, 'the transport warning')
        # a stall while samples are lost: 1280x720 gets through a few % of the time, so 0.5 s
        # without any image comes within seconds
        h.wait_for(lambda: logged('images lost in transport meanwhile'), 20.0, 'the stall')
    finally:
        camera.terminate()
        camera.wait(10.0)
    text = ''.join(log)
    assert 'camera stopped?' not in text
    assert '512 KB' in text and 'FASTDDS_DEFAULT_PROFILES_FILE=' in text  # cause, remedy 1
    assert 'image_transport:=compressed' in text  # remedy 2
    lossy = [s for s in h.diagnostics if lost_images(s)]
    assert lossy[0].level == DiagnosticStatus.WARN and 'lost in transport' in lossy[0].message
    assert any(float(values(s)['images_lost_fraction']) > 0.5 for s in lossy)
    assert 'camera_info_lost_in_transport' in values(lossy[-1])  # every input is counted


if __name__ == '__main__':
    play_camera(float(sys.argv[1]))
