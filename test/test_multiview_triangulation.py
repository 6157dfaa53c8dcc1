"""Triangulation maths of interhand_ros.multiview: exact on noise-free rays through distorted
lenses, weighted as asked, and the small solvers it relies on."""
import numpy as np
import pytest
from multiview_support import DISTORTED, rig, world_hands

from interhand_ros.multiview.refinement import solve_tree
from interhand_ros.multiview.triangulation import (
    adjugate3,
    masked_median,
    project_rays,
    projection,
    ray_errors_px,
    triangulate,
)
from interhand_ros.skeleton import BONES, NUM_JOINTS


def rays_of(points: np.ndarray, poses: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Projections and the normalised rays recovered from each view's DISTORTED pixels."""
    projections = np.stack([projection(pose) for pose in poses])
    rays = []
    for pose in poses:
        pixels = DISTORTED.camera_to_pixel((points - pose[:3, 3]) @ pose[:3, :3])
        rays.append(DISTORTED.pixel_rays(pixels))
    return projections, np.stack(rays)


def test_noise_free_distorted_pixels_triangulate_exactly():
    points = world_hands()['right']
    projections, rays = rays_of(points, rig(3))
    fused = triangulate(projections, rays, np.ones((3, NUM_JOINTS)))
    np.testing.assert_allclose(fused, points, atol=1e-9)
    errors = ray_errors_px(projections, np.full(3, 600.0), fused, rays)
    assert errors.max() < 1e-6


def test_undistortion_is_needed_for_exactness():
    points = world_hands()['left']
    poses = rig(2)
    projections = np.stack([projection(pose) for pose in poses])
    raw = np.stack([(DISTORTED.camera_to_pixel((points - p[:3, 3]) @ p[:3, :3])
                     - (DISTORTED.cx, DISTORTED.cy)) / (DISTORTED.fx, DISTORTED.fy)
                    for p in poses])
    naive = triangulate(projections, raw, np.ones((2, NUM_JOINTS)))
    assert np.linalg.norm(naive - points, axis=1).max() > 1e-3


def test_weights_decide_how_far_a_bad_view_pulls():
    points = world_hands()['right']
    projections, rays = rays_of(points, rig(3))
    rays[2] += 0.02   # one view's rays off by about 12 px
    heavy = triangulate(projections, rays, np.ones((3, NUM_JOINTS)))
    light = triangulate(projections, rays, np.array([1.0, 1.0, 0.05])[:, None]
                        * np.ones((1, NUM_JOINTS)))
    error = {name: np.linalg.norm(value - points, axis=1).mean()
             for name, value in (('heavy', heavy), ('light', light))}
    assert error['light'] < error['heavy'] / 5


def test_joints_seen_by_fewer_than_two_views_are_nan_and_batches_agree():
    points = world_hands()['left']
    projections, rays = rays_of(points, rig(3))
    weights = np.ones((3, NUM_JOINTS))
    weights[1:, 4] = 0.0          # joint 4: one view
    weights[:, 7] = 0.0           # joint 7: none
    rays[1:, 4] = np.nan          # unseen rays may be NaN
    single = triangulate(projections, rays, weights)
    assert np.isnan(single[[4, 7]]).all()
    assert np.isfinite(np.delete(single, [4, 7], axis=0)).all()
    batch = triangulate(projections, np.stack([rays, rays]), np.stack([weights, weights]))
    np.testing.assert_allclose(batch[1], single, equal_nan=True)


def test_points_behind_a_camera_have_infinite_error():
    points = world_hands()['right']
    projections, rays = rays_of(points, rig(2))
    behind = points.copy()
    behind[0] = 2 * projections[0, :, :3].T @ -projections[0, :, 3] - points[0]  # mirrored
    _, depth = project_rays(projections, behind)
    errors = ray_errors_px(projections, np.full(2, 600.0), behind, rays)
    assert depth[0, 0] < 0 and np.isinf(errors[0, 0])


def test_adjugate_inverts_and_tree_solver_matches_the_dense_system():
    rng = np.random.default_rng(0)
    matrices = rng.normal(size=(4, 3, 3))
    adjugate, determinant = adjugate3(matrices)
    np.testing.assert_allclose(adjugate / determinant[:, None, None], np.linalg.inv(matrices),
                               atol=1e-9)
    diagonal = np.array([m @ m.T + 2 * np.eye(3) for m in rng.normal(size=(NUM_JOINTS, 3, 3))])
    off = 0.3 * rng.normal(size=(len(BONES), 3, 3))
    dense = np.zeros((3 * NUM_JOINTS, 3 * NUM_JOINTS))
    for joint in range(NUM_JOINTS):
        dense[3 * joint:3 * joint + 3, 3 * joint:3 * joint + 3] = diagonal[joint]
    for bone, (parent, child) in enumerate(BONES):
        dense[3 * child:3 * child + 3, 3 * parent:3 * parent + 3] = off[bone]
        dense[3 * parent:3 * parent + 3, 3 * child:3 * child + 3] = off[bone].T
    truth = rng.normal(size=(NUM_JOINTS, 3))
    rhs = (dense @ truth.ravel()).reshape(NUM_JOINTS, 3)
    np.testing.assert_allclose(solve_tree(diagonal, off, rhs), truth, atol=1e-9)


@pytest.mark.parametrize('count', [1, 2, 5])
def test_masked_median_is_the_lower_median_of_the_masked_entries(count):
    values = np.array([[5.0, 1.0, 4.0, 2.0, 3.0]])
    mask = np.zeros_like(values, dtype=bool)
    mask[0, :count] = True
    expected = np.sort(values[0, :count])[(count - 1) // 2]
    assert masked_median(values, mask)[0] == expected
    assert np.isnan(masked_median(values, np.zeros_like(mask)))[0]
