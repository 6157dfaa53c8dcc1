"""Hands refined: robust reprojection error plus weak priors, by damped Gauss-Newton (IRLS).

Cost over each hand's observed joints X (world, m):
  sum over rays     confidence * huber(|reprojection error| / robust_scale_px)
  sum over views    huber(|(X_c - X_p) - (own_c - own_p)| / relative_sigma_m), per bone (p, c):
                    the bone vectors of each view's own 3D (its network's relative depths)
  sum over bones    ((|X_c - X_p| - L) / bone_sigma_m)^2, L the session's length (BoneLengths)
A joint seen by one view is pinned to its ray and placed along it by its neighbours' bone
vectors and lengths, so it lands where that view's own 3D puts it relative to the rest of the
hand. Every term couples at most a joint and its parent, so the Gauss-Newton system is a tree
of 3 x 3 blocks (the skeleton), solved exactly by eliminating the fingers level by level, tips
first (solve_tree): no dense 63 x 63 factorisation, whose multi-threaded BLAS call alone took
milliseconds on a loaded 2-CPU machine. Both hands are solved together (a leading axis) and
Huber weights are re-computed each step (IRLS). This is the robust least-squares problem
scipy.optimize.least_squares would solve (loss 'huber'), at a fraction of its per-call cost,
which alone exceeds the 2 ms budget per group.
"""
from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np

from interhand_ros.multiview.triangulation import adjugate3, lengths
from interhand_ros.skeleton import BONES, NUM_JOINTS, PARENTS

_PARENT = np.array([p for p, _ in BONES])
_CHILD = np.array([c for _, c in BONES])
_HUBER_RELATIVE = 2.0     # bone-vector residuals beyond 2 sigma count linearly
_STEP_TOLERANCE_M = 1e-4  # converged when no joint moves more than this
_DAMPING = 1e-4           # Levenberg term (x the mean diagonal): keeps every block invertible
# the tree: the wrist, then five fingers (thumb first) of four joints each, base to tip, in
# published order (joint 1 + 4 finger + level; bone 4 finger + level ends at that joint)
_FINGERS, _LEVELS = 5, 4
assert all(PARENTS[1 + 4 * finger + level] == (0 if level == 0 else 4 * finger + level)
           for finger in range(_FINGERS) for level in range(_LEVELS))
# bone -> joint incidence: _TOUCHES[j, b] = 1 if joint j is an end of bone b; _SIGNED: +1 for
# its child, -1 for its parent
_TOUCHES = np.zeros((NUM_JOINTS, len(BONES)))
_TOUCHES[_CHILD, np.arange(len(BONES))] = _TOUCHES[_PARENT, np.arange(len(BONES))] = 1.0
_SIGNED = _TOUCHES.copy()
_SIGNED[_PARENT, np.arange(len(BONES))] = -1.0


@dataclass
class Problem:
    """H hands seen by V views: projections (V, 3, 4), focal_px (V,), rays (H, V, J, 2),
    weights (H, V, J) (0 = not seen), own (H, V, J, 3) the views' own 3D in the world (NaN
    where unknown), bone_lengths (H, B) (NaN: no prior for that bone)."""

    projections: np.ndarray
    focal_px: np.ndarray
    rays: np.ndarray
    weights: np.ndarray
    own: np.ndarray
    bone_lengths: np.ndarray
    robust_scale_px: float
    relative_sigma_m: float
    bone_sigma_m: float


class _Terms:
    """The problem's constant arrays, prepared once per refine call."""

    def __init__(self, problem: Problem, active: np.ndarray) -> None:
        self.seen = problem.weights > 0                                   # (H, V, J)
        self.confidence = problem.weights
        self.targets = np.where(self.seen[..., None], problem.rays, 0.0)
        self.rotation = problem.projections[:, :, :3]
        self.translation = problem.projections[:, :, 3]
        self.pixel_scale = problem.focal_px / problem.robust_scale_px      # (V,)
        own = problem.own[:, :, _CHILD] - problem.own[:, :, _PARENT]       # (H, V, B, 3)
        both = active[:, _CHILD] & active[:, _PARENT]                      # (H, B)
        self.own_usable = np.isfinite(own).all(axis=-1) & both[:, None] \
            & self.seen.any(axis=-1)[..., None]
        self.own_bones = np.where(self.own_usable[..., None], own, 0.0)
        self.length_usable = both & np.isfinite(problem.bone_lengths)
        self.lengths = np.where(self.length_usable, problem.bone_lengths, 0.0)
        self.relative_sigma, self.bone_sigma = problem.relative_sigma_m, problem.bone_sigma_m


def refine(problem: Problem, start: np.ndarray, iterations: int) -> np.ndarray:
    """(H, J, 3) refined joints from start (finite where observed; NaN elsewhere).

    Gauss-Newton from the triangulated start, which is already close: one or two steps
    converge (the benchmark's errors do not change beyond two). A step that raises a hand's
    cost is taken back and that hand stops there.
    """
    active = np.isfinite(start).all(axis=-1) & (problem.weights > 0).any(axis=1)
    terms = _Terms(problem, active)
    points = np.where(active[..., None], start, 0.0)
    moving = np.ones(len(points), dtype=bool)
    cost, (diagonal, off, gradient) = _normal_equations(terms, points, active)
    for iteration in range(iterations):
        scale = np.trace(diagonal, axis1=-2, axis2=-1).mean(axis=-1) / 3 + 1e-12
        step = solve_tree(diagonal + (_DAMPING * scale)[:, None, None, None] * np.eye(3), off,
                          -gradient)
        step[~moving] = 0.0
        trial = points + step
        last = iteration == iterations - 1   # only its cost is needed: no system to build
        trial_cost, (diagonal, off, gradient) = _normal_equations(terms, trial, active,
                                                                  system=not last)
        worse = trial_cost > cost
        points = np.where(worse[:, None, None], points, trial)
        cost = np.where(worse, cost, trial_cost)
        moving &= ~worse & (np.abs(step).max(axis=(1, 2)) >= _STEP_TOLERANCE_M)
        if not moving.any():
            break
    return np.where(active[..., None], points, np.nan)


def solve_tree(diagonal: np.ndarray, off: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """x (..., J, 3) of symmetric block systems H x = rhs whose only off-diagonal blocks are
    H[child, parent] = off[..., child - 1, :, :] (BONES order): the five fingers' chains are
    eliminated tips first into the wrist, then substituted back."""
    lead = diagonal.shape[:-3]
    diagonal, rhs = diagonal.copy(), rhs.copy()
    # views (..., finger, level, ...): joint 1 + 4 finger + level, its bone 4 finger + level
    fingers = diagonal[..., 1:, :, :].reshape(*lead, _FINGERS, _LEVELS, 3, 3)
    pulled_rhs = rhs[..., 1:, :].reshape(*lead, _FINGERS, _LEVELS, 3)
    coupling = off.reshape(*lead, _FINGERS, _LEVELS, 3, 3)
    inverses = []
    for level in reversed(range(_LEVELS)):
        adjugate, determinant = adjugate3(fingers[..., level, :, :])
        inverse = adjugate / determinant[..., None, None]
        link = coupling[..., level, :, :]
        gain = link.swapaxes(-1, -2) @ inverse                          # H_pc H_cc^-1
        reduced, pulled = gain @ link, (gain @ pulled_rhs[..., level, :, None])[..., 0]
        if level:
            fingers[..., level - 1, :, :] -= reduced
            pulled_rhs[..., level - 1, :] -= pulled
        else:                                                            # into the wrist
            diagonal[..., 0, :, :] -= reduced.sum(axis=-3)
            rhs[..., 0, :] -= pulled.sum(axis=-2)
        inverses.append(inverse)
    solution = np.empty_like(rhs)
    adjugate, determinant = adjugate3(diagonal[..., 0, :, :])
    solution[..., 0, :] = (adjugate @ rhs[..., 0, :, None])[..., 0] / determinant[..., None]
    chains = solution[..., 1:, :].reshape(*lead, _FINGERS, _LEVELS, 3)
    parent = np.broadcast_to(solution[..., None, 0, :], chains[..., 0, :].shape)
    for level, inverse in zip(range(_LEVELS), reversed(inverses)):
        reduced = pulled_rhs[..., level, :] \
            - (coupling[..., level, :, :] @ parent[..., None])[..., 0]
        chains[..., level, :] = (inverse @ reduced[..., None])[..., 0]
        parent = chains[..., level, :]
    return solution


def _normal_equations(terms: _Terms, points: np.ndarray, active: np.ndarray,
                      system: bool = True
                      ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per hand cost (H,), and the IRLS-weighted Gauss-Newton systems at points: diagonal
    blocks (H, J, 3, 3), child-parent blocks (H, B, 3, 3), gradients (H, J, 3) (all zero
    when system is False)."""
    count = len(points)
    diagonal = np.zeros((count, NUM_JOINTS, 3, 3))
    gradient = np.zeros((count, NUM_JOINTS, 3))
    cost = _rays(terms, points, diagonal, gradient, system)
    pair_cost, block, pulled = _bone_terms(terms, points)
    cost += pair_cost
    if not system:
        return cost, (diagonal, -block, gradient)
    diagonal += np.einsum('jb,hbxy->hjxy', _TOUCHES, block)
    gradient += np.einsum('jb,hbi->hji', _SIGNED, pulled)
    diagonal[~active] = np.eye(3)
    gradient[~active] = 0.0
    return cost, (diagonal, -block, gradient)


def _huber(norm: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(IRLS weight, robust cost) for residual norms already divided by their scale."""
    inside = norm <= threshold
    weight = np.where(inside, 1.0, threshold / np.maximum(norm, 1e-12))
    cost = np.where(inside, norm ** 2, 2 * threshold * norm - threshold ** 2)
    return weight, cost


def _rays(terms: _Terms, points: np.ndarray, diagonal: np.ndarray, gradient: np.ndarray,
          system: bool) -> np.ndarray:
    camera = np.einsum('vij,hnj->hvni', terms.rotation, points) \
        + terms.translation[None, :, None, :]
    depth = np.where(terms.seen & (camera[..., 2] > 1e-6), camera[..., 2], 1.0)
    projected = camera[..., :2] / depth[..., None]
    scale = terms.pixel_scale[None, :, None, None]
    residual = np.where(terms.seen[..., None], (projected - terms.targets) * scale, 0.0)
    robust, cost = _huber(lengths(residual), 1.0)
    if not system:
        return np.sum(terms.confidence * cost, axis=(1, 2))
    weight = terms.confidence * robust
    # d(projected)/d(camera) = [[1/z, 0, -x/z^2], [0, 1/z, -y/z^2]]; then the rotation
    inverse_depth = scale / depth[..., None]                              # (H, V, J, 1)
    derivative = np.zeros(camera.shape[:3] + (2, 3))
    derivative[..., 0, 0] = derivative[..., 1, 1] = inverse_depth[..., 0]
    derivative[..., :, 2] = -projected * inverse_depth
    jacobian = np.einsum('hvnab,vbc->hvnac', derivative, terms.rotation)
    diagonal += np.einsum('hvnai,hvn,hvnak->hnik', jacobian, weight, jacobian)
    gradient += np.einsum('hvnai,hvn,hvna->hni', jacobian, weight, residual)
    return np.sum(terms.confidence * cost, axis=(1, 2))


def _bone_terms(terms: _Terms, points: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hand cost (H,), J^T W J (H, B, 3, 3) and J^T W r (H, B, 3) of the bone-vector and
    bone-length terms, J the derivative by the bone's child joint."""
    vector = points[:, _CHILD] - points[:, _PARENT]                       # (H, B, 3)
    sigma = terms.relative_sigma
    residual = np.where(terms.own_usable[..., None], vector[:, None] - terms.own_bones,
                        0.0) / sigma                                      # (H, V, B, 3)
    weight, cost = _huber(lengths(residual), _HUBER_RELATIVE)
    weight = np.where(terms.own_usable, weight, 0.0) / sigma              # (H, V, B)
    block = (weight.sum(axis=1) / sigma)[..., None, None] * np.eye(3)
    pulled = np.einsum('hvb,hvbi->hbi', weight, residual)
    total = np.sum(np.where(terms.own_usable, cost, 0.0), axis=(1, 2))
    length = np.maximum(lengths(vector), 1e-9)
    usable = terms.length_usable
    unit = np.where(usable[..., None], vector / length[..., None], 0.0) / terms.bone_sigma
    stretch = np.where(usable, length - terms.lengths, 0.0) / terms.bone_sigma
    block = block + unit[..., :, None] * unit[..., None, :]
    pulled = pulled + unit * stretch[..., None]
    return total + np.sum(stretch ** 2, axis=-1), block, pulled


class BoneLengths:
    """Each side's bone lengths for the session: running median of well-triangulated frames
    (recomputed every min_samples frames: lengths change slowly, medians cost time)."""

    def __init__(self, window: int, min_samples: int) -> None:
        self.min_samples = min_samples
        self._samples: list[deque[np.ndarray]] = [deque(maxlen=window) for _ in range(2)]
        self._since = [0, 0]
        self._lengths: list[np.ndarray] = [np.full(len(BONES), np.nan) for _ in range(2)]

    def observe(self, side: int, points: np.ndarray, views_per_joint: np.ndarray) -> None:
        """One frame's triangulated joints (J, 3) and how many views saw each joint; only bones
        whose two joints were seen by at least two views count."""
        lengths = np.linalg.norm(points[_CHILD] - points[_PARENT], axis=-1)
        lengths[(views_per_joint[_CHILD] < 2) | (views_per_joint[_PARENT] < 2)] = np.nan
        if not np.isfinite(lengths).any():
            return
        self._samples[side].append(lengths)
        self._since[side] += 1
        if self._since[side] >= self.min_samples:
            self._since[side] = 0
            stacked = np.array(self._samples[side])
            counts = np.isfinite(stacked).sum(axis=0)
            with warnings.catch_warnings():  # a bone never seen: an all-NaN column
                warnings.simplefilter('ignore', RuntimeWarning)
                median = np.nanmedian(stacked, axis=0)
            self._lengths[side] = np.where(counts >= self.min_samples, median, np.nan)

    def lengths(self, side: int) -> np.ndarray:
        """(B,) the session's lengths, m; NaN for a bone seen in fewer than min_samples
        frames (all NaN at first)."""
        return self._lengths[side]

    def reset(self) -> None:
        for side, samples in enumerate(self._samples):
            samples.clear()
            self._since[side] = 0
            self._lengths[side] = np.full(len(BONES), np.nan)
