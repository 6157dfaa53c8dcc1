"""Per-joint triangulation of undistorted rays from calibrated views, and reprojection errors.

Every view is a 3 x 4 projection P = [R | t] (world -> optical frame) and each observation a
normalised ray (x, y) = ((u - cx) / fx, (v - cy) / fy) of the undistorted pixel
(CameraModel.pixel_rays). The DLT rows w (x P3 - P1), w (y P3 - P2) of all views are stacked per
joint and solved with the homogeneous coordinate fixed to 1 (a 3 x 3 system per joint, batched):
the same least-squares solution as the SVD form for points in front of the cameras, at a
fraction of its cost (normal equations by one batched matrix product, a closed-form 3 x 3
solve). w is the observation's weight (its confidence; 0 = not seen).
Joints seen by fewer than two views come out NaN.
"""
from __future__ import annotations

import numpy as np

MIN_VIEWS = 2
_NEXT, _AFTER = [1, 2, 0], [2, 0, 1]   # i + 1 and i + 2, mod 3


def projection(world_from_camera: np.ndarray) -> np.ndarray:
    """3 x 4 [R | t] mapping world points to the optical frame (the inverse of the pose)."""
    rotation = world_from_camera[:3, :3].T
    return np.hstack([rotation, -rotation @ world_from_camera[:3, 3:4]])


def triangulate(projections: np.ndarray, rays: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted linear triangulation.

    projections (V, 3, 4); rays (..., V, J, 2) normalised; weights (..., V, J), >= 0 (NaN rays
    must have weight 0). Returns (..., J, 3) world points, NaN where fewer than MIN_VIEWS
    weights are positive or the rays are parallel.
    """
    rays = np.asarray(rays, dtype=np.float64)
    rays = np.where(np.isnan(rays), 0.0, rays)   # not np.nan_to_num: 5 x slower
    weights = np.asarray(weights, dtype=np.float64)
    # rows (..., V, J, 2, 4): x P3 - P1 and y P3 - P2, for each view and joint
    rows = rays[..., None] * projections[:, None, 2:3, :] - projections[:, None, :2, :]
    rows = rows * weights[..., None, None]
    rows = rows.swapaxes(-4, -3).reshape(*rows.shape[:-4], rows.shape[-3], -1, 4)
    normal = rows.swapaxes(-1, -2) @ rows                      # (..., J, 4, 4)
    matrix, rhs = normal[..., :3, :3], -normal[..., :3, 3]
    seen = np.count_nonzero(weights > 0, axis=-2) >= MIN_VIEWS
    adjugate, determinant = adjugate3(matrix)
    scale = (matrix[..., 0, 0] + matrix[..., 1, 1] + matrix[..., 2, 2]) ** 3
    usable = seen & (np.abs(determinant) > 1e-12 * np.maximum(scale, 1e-300))
    with np.errstate(invalid='ignore', divide='ignore'):
        points = (adjugate @ rhs[..., None])[..., 0] / determinant[..., None]
    points[~usable] = np.nan
    return points


def adjugate3(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adjugate, determinant) of (..., 3, 3) matrices: inverse = adjugate / determinant.

    Row i of the adjugate is column i+1 x column i+2 (indices mod 3). Closed form, no LAPACK:
    numpy's batched solve and inv go through a multi-threaded BLAS whose start-up alone costs
    milliseconds per call when other processes load the CPUs.
    """
    columns = matrices.swapaxes(-1, -2)
    following, after = columns[..., _NEXT, :], columns[..., _AFTER, :]
    rows = following[..., _NEXT] * after[..., _AFTER] - following[..., _AFTER] * after[..., _NEXT]
    return rows, np.einsum('...i,...i->...', columns[..., 0, :], rows[..., 0, :])


def lengths(vectors: np.ndarray) -> np.ndarray:
    """Euclidean length over the last axis (np.linalg.norm's result at a third of its cost on
    the small arrays here)."""
    return np.sqrt(np.einsum('...i,...i->...', vectors, vectors))


def masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median over the last axis of the entries where mask is true (the lower middle one for
    an even count; NaN where none): np.nanmedian's result without its masked-array cost."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=-1)
    count = mask.sum(axis=-1)
    middle = np.take_along_axis(ordered, np.maximum(count - 1, 0)[..., None] // 2, axis=-1)
    return np.where(count > 0, middle[..., 0], np.nan)


def project_rays(projections: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (..., J, 3) -> (normalised rays (..., V, J, 2), depths (..., V, J))."""
    camera = np.einsum('vij,...nj->...vni', projections[:, :, :3], points) \
        + projections[:, None, :, 3]
    depth = camera[..., 2]
    with np.errstate(invalid='ignore', divide='ignore'):
        return camera[..., :2] / depth[..., None], depth


def ray_errors_px(projections: np.ndarray, focal_px: np.ndarray, points: np.ndarray,
                  rays: np.ndarray) -> np.ndarray:
    """Distance (..., V, J) between observed rays and the points' projections, in pixels of the
    undistorted image (normalised distance x the view's mean focal length focal_px (V,)).
    Infinite for a point behind a camera."""
    projected, depth = project_rays(projections, points)
    error = lengths(projected - rays) * focal_px[:, None]
    return np.where(depth > 0, error, np.inf)
