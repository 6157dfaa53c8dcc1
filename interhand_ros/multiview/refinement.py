"""One hand refined: robust reprojection error plus weak priors, by damped Gauss-Newton (IRLS).

Cost over the hand's observed joints X (world, m):
  sum over rays     confidence * huber(|reprojection error| / robust_scale_px)
  sum over views    huber(|(X_c - X_p) - (own_c - own_p)| / relative_sigma_m), per bone (p, c):
                    the bone vectors of each view's own 3D (its network's relative depths)
  sum over bones    ((|X_c - X_p| - L) / bone_sigma_m)^2, L the session's length (BoneLengths)
A joint seen by one view is pinned to its ray and placed along it by its neighbours' bone
vectors and lengths, so it lands where that view's own 3D puts it relative to the rest of the
hand. The problem is small (63 unknowns, block-sparse), so it is solved here directly, with
Huber weights re-computed each step and Levenberg damping, in well under a millisecond;
scipy.optimize.least_squares needs several times the 2 ms budget per group for the same cost.
"""
from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np

from interhand_ros.skeleton import BONES, NUM_JOINTS

_PARENT = np.array([p for p, _ in BONES])
_CHILD = np.array([c for _, c in BONES])
_HUBER_RELATIVE = 2.0     # bone-vector residuals beyond 2 sigma count linearly


@dataclass
class HandProblem:
    """One hand's data (V = the views that observe it): projections (V, 3, 4), focal_px (V,),
    rays (V, J, 2), weights (V, J) (0 = not seen), own (V, J, 3) the views' own 3D in the world
    (NaN where unknown), bone_lengths (20,) or None."""

    projections: np.ndarray
    focal_px: np.ndarray
    rays: np.ndarray
    weights: np.ndarray
    own: np.ndarray
    bone_lengths: np.ndarray | None
    robust_scale_px: float
    relative_sigma_m: float
    bone_sigma_m: float


def refine(problem: HandProblem, start: np.ndarray, iterations: int) -> np.ndarray:
    """(J, 3) refined joints from start (finite where the joint is observed; NaN elsewhere)."""
    active = np.isfinite(start).all(axis=1) & (problem.weights > 0).any(axis=0)
    points = np.where(active[:, None], start, 0.0)
    damping = 1e-3
    cost, hessian, gradient = _normal_equations(problem, points, active)
    for _ in range(iterations):
        scale = np.mean(np.diagonal(hessian)) + 1e-12
        step = np.linalg.solve(hessian + damping * scale * np.eye(hessian.shape[0]), -gradient)
        trial = points + step.reshape(NUM_JOINTS, 3)
        trial_cost, trial_hessian, trial_gradient = _normal_equations(problem, trial, active)
        if trial_cost <= cost:
            points, cost, hessian, gradient = trial, trial_cost, trial_hessian, trial_gradient
            damping = max(damping / 3, 1e-7)
            if np.max(np.abs(step)) < 1e-6:
                break
        else:
            damping *= 10
    points[~active] = np.nan
    return points


def _normal_equations(problem: HandProblem, points: np.ndarray, active: np.ndarray
                      ) -> tuple[float, np.ndarray, np.ndarray]:
    """(cost, H (3J, 3J), g (3J,)) of the IRLS-weighted Gauss-Newton system at points."""
    blocks = np.zeros((NUM_JOINTS, NUM_JOINTS, 3, 3))
    gradient = np.zeros((NUM_JOINTS, 3))
    cost = _rays(problem, points, blocks, gradient)
    cost += _bone_vectors(problem, points, active, blocks, gradient)
    cost += _bone_lengths(problem, points, active, blocks, gradient)
    inactive = np.flatnonzero(~active)
    blocks[inactive, inactive] = np.eye(3)
    gradient[inactive] = 0.0
    return cost, blocks.transpose(0, 2, 1, 3).reshape(3 * NUM_JOINTS, -1), gradient.ravel()


def _huber(norm: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(IRLS weight, robust cost) for residual norms already divided by their scale."""
    weight = np.where(norm <= threshold, 1.0, threshold / np.maximum(norm, 1e-12))
    cost = np.where(norm <= threshold, norm ** 2, 2 * threshold * norm - threshold ** 2)
    return weight, cost


def _rays(problem: HandProblem, points: np.ndarray, blocks: np.ndarray,
          gradient: np.ndarray) -> float:
    seen = problem.weights > 0
    rotation = problem.projections[:, :, :3]
    camera = np.einsum('vij,nj->vni', rotation, points) + problem.projections[:, None, :, 3]
    depth = np.where(seen, camera[..., 2], 1.0)
    depth = np.where(depth > 1e-6, depth, 1e-6)
    projected = camera[..., :2] / depth[..., None]
    scale = problem.focal_px[:, None, None] / problem.robust_scale_px
    residual = np.where(seen[..., None], (projected - np.nan_to_num(problem.rays)) * scale, 0.0)
    robust, cost = _huber(np.linalg.norm(residual, axis=-1), 1.0)
    weight = problem.weights * robust
    # d(projected)/d(camera) = [[1/z, 0, -x/z^2], [0, 1/z, -y/z^2]]; then the rotation
    derivative = np.zeros(camera.shape[:2] + (2, 3))
    derivative[..., 0, 0] = derivative[..., 1, 1] = 1.0 / depth
    derivative[..., :, 2] = -projected / depth[..., None]
    jacobian = np.einsum('vnab,vbc->vnac', derivative * scale[..., None], rotation)
    diagonal = np.arange(NUM_JOINTS)
    blocks[diagonal, diagonal] += np.einsum('vnai,vn,vnak->nik', jacobian, weight, jacobian)
    gradient += np.einsum('vnai,vn,vna->ni', jacobian, weight, residual)
    return float(np.sum(problem.weights * cost))


def _add_pairs(blocks: np.ndarray, gradient: np.ndarray, parent: np.ndarray, child: np.ndarray,
               block: np.ndarray, pulled: np.ndarray) -> None:
    """Terms on X_child - X_parent: block (B, 3, 3) = J^T W J, pulled (B, 3) = J^T W r."""
    np.add.at(blocks, (child, child), block)
    np.add.at(blocks, (parent, parent), block)
    np.add.at(blocks, (child, parent), -block)
    np.add.at(blocks, (parent, child), -block)
    np.add.at(gradient, child, pulled)
    np.add.at(gradient, parent, -pulled)


def _bone_vectors(problem: HandProblem, points: np.ndarray, active: np.ndarray,
                  blocks: np.ndarray, gradient: np.ndarray) -> float:
    own = problem.own[:, _CHILD] - problem.own[:, _PARENT]                   # (V, B, 3)
    usable = np.isfinite(own).all(axis=-1) & active[_CHILD] & active[_PARENT]
    usable &= (problem.weights > 0).any(axis=1)[:, None]
    if not usable.any():
        return 0.0
    view, bone = np.nonzero(usable)
    residual = (points[_CHILD[bone]] - points[_PARENT[bone]] - own[view, bone]) \
        / problem.relative_sigma_m
    weight, cost = _huber(np.linalg.norm(residual, axis=-1), _HUBER_RELATIVE)
    factor = weight / problem.relative_sigma_m
    block = factor[:, None, None] / problem.relative_sigma_m * np.eye(3)
    _add_pairs(blocks, gradient, _PARENT[bone], _CHILD[bone], block,
               factor[:, None] * residual)
    return float(np.sum(cost))


def _bone_lengths(problem: HandProblem, points: np.ndarray, active: np.ndarray,
                  blocks: np.ndarray, gradient: np.ndarray) -> float:
    if problem.bone_lengths is None:
        return 0.0
    usable = np.flatnonzero(active[_CHILD] & active[_PARENT] & np.isfinite(problem.bone_lengths))
    vector = points[_CHILD[usable]] - points[_PARENT[usable]]
    length = np.maximum(np.linalg.norm(vector, axis=-1), 1e-9)
    unit = vector / length[:, None] / problem.bone_sigma_m
    residual = (length - problem.bone_lengths[usable]) / problem.bone_sigma_m
    _add_pairs(blocks, gradient, _PARENT[usable], _CHILD[usable],
               np.einsum('bi,bj->bij', unit, unit), unit * residual[:, None])
    return float(np.sum(residual ** 2))


class BoneLengths:
    """Each side's bone lengths for the session: running median of well-triangulated frames."""

    def __init__(self, window: int, min_samples: int) -> None:
        self.min_samples = min_samples
        self._samples: list[deque[np.ndarray]] = [deque(maxlen=window) for _ in range(2)]

    def observe(self, side: int, points: np.ndarray, views_per_joint: np.ndarray) -> None:
        """One frame's triangulated joints (J, 3) and how many views saw each joint; only bones
        whose two joints were seen by at least two views count."""
        lengths = np.linalg.norm(points[_CHILD] - points[_PARENT], axis=-1)
        lengths[(views_per_joint[_CHILD] < 2) | (views_per_joint[_PARENT] < 2)] = np.nan
        if np.isfinite(lengths).any():
            self._samples[side].append(lengths)

    def lengths(self, side: int) -> np.ndarray | None:
        """(20,) median lengths, m (NaN for a bone not yet seen enough); None before
        min_samples frames."""
        samples = self._samples[side]
        if len(samples) < self.min_samples:
            return None
        stacked = np.array(samples)
        counts = np.isfinite(stacked).sum(axis=0)
        with warnings.catch_warnings():  # a bone never seen: an all-NaN column
            warnings.simplefilter('ignore', RuntimeWarning)
            median = np.nanmedian(stacked, axis=0)
        return np.where(counts >= self.min_samples, median, np.nan)

    def reset(self) -> None:
        for samples in self._samples:
            samples.clear()
