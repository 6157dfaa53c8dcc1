"""geometry/transforms.py: the fusion node's transform buffer (tf2's lookups, without ROS).

Known rigid transforms are composed through chains and checked on points; missing links,
stamps out of tolerance and malformed rotations are refused with a message naming the link.
"""
from __future__ import annotations

import numpy as np
import pytest
import transforms3d.euler as euler
import transforms3d.quaternions as quaternions

from interhand_ros.geometry.transforms import (
    TransformBuffer,
    TransformError,
    apply,
    invert,
    matrix_from,
)

MS = 1_000_000


def random_pose(rng: np.random.Generator) -> np.ndarray:
    w, x, y, z = quaternions.mat2quat(euler.euler2mat(*rng.uniform(-np.pi, np.pi, 3)))
    return matrix_from(rng.uniform(-2, 2, 3), (x, y, z, w))


def test_matrix_from_maps_points_like_the_rotation_and_translation():
    # 90 degrees about z: x -> y
    s = np.sqrt(0.5)
    matrix = matrix_from((1.0, 2.0, 3.0), (0.0, 0.0, s, s))
    np.testing.assert_allclose(apply(matrix, np.array([[1.0, 0.0, 0.0]])), [[1.0, 3.0, 3.0]],
                               atol=1e-12)
    np.testing.assert_allclose(invert(matrix) @ matrix, np.eye(4), atol=1e-12)


@pytest.mark.parametrize('translation, rotation, words', [
    ((0, 0, np.nan), (0, 0, 0, 1), 'not finite'),
    ((0, 0, 0), (0, 0, 0, 0), 'length'),
    ((0, 0, 0), (1, 1, 0, 1), 'length'),
])
def test_matrix_from_refuses_malformed_transforms(translation, rotation, words):
    with pytest.raises(ValueError, match=words):
        matrix_from(translation, rotation)


def test_lookup_composes_a_chain_through_the_common_ancestor():
    rng = np.random.default_rng(1)
    world_from_rig, rig_from_cam1, world_from_cam2 = (random_pose(rng) for _ in range(3))
    buffer = TransformBuffer()
    buffer.set_transform('world', 'rig', 0, world_from_rig, static=True)
    buffer.set_transform('rig', 'cam1_optical', 0, rig_from_cam1, static=True)
    buffer.set_transform('world', 'cam2_optical', 0, world_from_cam2, static=True)
    point = rng.uniform(-1, 1, (5, 3))
    expected = apply(world_from_rig @ rig_from_cam1, point)
    np.testing.assert_allclose(apply(buffer.lookup('world', 'cam1_optical', 123, 0), point),
                               expected, atol=1e-12)
    # cam2 <- cam1 goes up to the world and back down
    cam2_from_cam1 = buffer.lookup('cam2_optical', 'cam1_optical', 5, 0)
    np.testing.assert_allclose(apply(world_from_cam2 @ cam2_from_cam1, point), expected,
                               atol=1e-12)
    np.testing.assert_allclose(buffer.lookup('world', 'world', 0, 0), np.eye(4))


def test_dynamic_transforms_are_taken_at_the_nearest_stamp_within_tolerance():
    buffer = TransformBuffer()
    for k in range(5):  # the camera moves 1 cm per 100 ms along x
        buffer.set_transform('world', 'cam', k * 100 * MS,
                             matrix_from((0.01 * k, 0, 0), (0, 0, 0, 1)), static=False)
    at = buffer.lookup('world', 'cam', 290 * MS, 20 * MS)
    assert at[0, 3] == pytest.approx(0.03)
    with pytest.raises(TransformError, match=r"'world' <- 'cam'.*nearest -50 ms"):
        buffer.lookup('world', 'cam', 450 * MS, 20 * MS)


def test_old_dynamic_samples_are_forgotten():
    buffer = TransformBuffer(history_ns=1000 * MS)
    for k in range(30):
        buffer.set_transform('world', 'cam', k * 100 * MS, np.eye(4), static=False)
    with pytest.raises(TransformError, match='nearest'):
        buffer.lookup('world', 'cam', 0, 50 * MS)
    buffer.lookup('world', 'cam', 2900 * MS, 0)


def test_missing_frames_and_disconnected_trees_are_named():
    buffer = TransformBuffer()
    buffer.set_transform('world', 'cam1_optical', 0, np.eye(4), static=True)
    buffer.set_transform('table', 'cam2_optical', 0, np.eye(4), static=True)
    with pytest.raises(TransformError, match="frame 'cam3_optical' never heard"):
        buffer.lookup('world', 'cam3_optical', 0, 0)
    with pytest.raises(TransformError, match='not connected'):
        buffer.lookup('world', 'cam2_optical', 0, 0)


def test_a_frame_republished_under_another_parent_takes_the_newest():
    buffer = TransformBuffer()
    buffer.set_transform('table', 'cam', 0, np.eye(4), static=True)
    buffer.set_transform('world', 'cam', 0, matrix_from((1, 0, 0), (0, 0, 0, 1)), static=True)
    assert buffer.lookup('world', 'cam', 0, 0)[0, 3] == 1.0
    with pytest.raises(TransformError):
        buffer.lookup('table', 'cam', 0, 0)


def test_a_cycle_is_refused_not_looped():
    buffer = TransformBuffer()
    buffer.set_transform('a', 'b', 0, np.eye(4), static=True)
    buffer.set_transform('b', 'a', 0, np.eye(4), static=True)
    with pytest.raises(TransformError, match='cyclic'):
        buffer.lookup('world', 'a', 0, 0)
    with pytest.raises(ValueError, match='two different'):
        buffer.set_transform('a', 'a', 0, np.eye(4), static=True)


def test_a_tf_message_is_stored_and_its_malformed_transforms_named():
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
    good = TransformStamped(child_frame_id='cam1_optical')
    good.header.frame_id = '/world'  # tf2 drops a leading '/'
    good.transform.translation.x = 2.0
    bad = TransformStamped(child_frame_id='cam2_optical')
    bad.header.frame_id = 'world'
    bad.transform.rotation.w = 0.0  # all zero: not a rotation
    buffer = TransformBuffer()
    problems = buffer.add_message(TFMessage(transforms=[good, bad]), static=True)
    assert len(problems) == 1 and "'world' <- 'cam2_optical' refused" in problems[0]
    assert buffer.lookup('world', 'cam1_optical', 0, 0)[0, 3] == 2.0
    with pytest.raises(TransformError, match='never heard'):
        buffer.lookup('world', 'cam2_optical', 0, 0)
