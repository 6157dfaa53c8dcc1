"""One bundle adjustment over every board corner every camera saw.

Unknowns: each camera's pose (one camera fixed: it is the frame the others are solved in),
each board pose (one per frame index), and the intrinsics (fx, fy, cx, cy, k1, k2, p1, p2;
k3 stays 0, as calibrate_intrinsics leaves it) of the cameras whose lens was estimated (a
camera_info lens stays as given).
Residuals: reprojection errors in pixels, under a Huber loss so a badly detected corner cannot
pull the solution. The Jacobian's sparsity (a corner depends on one camera and one board pose)
keeps the finite differences cheap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import lil_matrix
from scipy.spatial.transform import Rotation

from interhand_ros.calibration.intrinsics import Intrinsics
from interhand_ros.calibration.poses import from_vector, to_vector

HUBER_PX = 1.0  # residuals beyond this count linearly: outlying corners lose their pull
POSE, LENS = 6, 8  # refined lens parameters: the first 8 of Intrinsics.vector()


@dataclass(frozen=True)
class Observations:
    """Every corner seen: which camera and frame (indices), its board point and its pixel."""

    camera: np.ndarray   # (P,) int
    frame: np.ndarray    # (P,) int
    points: np.ndarray   # (P, 3) board frame, metres
    pixels: np.ndarray   # (P, 2)


@dataclass(frozen=True)
class Solution:
    camera_poses: list[np.ndarray]   # T_camera_reference per camera (the fixed one: identity)
    board_poses: list[np.ndarray]    # T_reference_board per frame
    lenses: list[Intrinsics]
    residuals: np.ndarray            # (P, 2) pixels, reprojected minus detected


def project(rotations: np.ndarray, translations: np.ndarray, points: np.ndarray,
            lens: np.ndarray) -> np.ndarray:
    """Pixels of points (P, 3) moved by per-point rotations (P, 3, 3) and translations (P, 3),
    through per-point plumb_bob lenses (P, 9), as cv2.projectPoints computes them."""
    moved = np.einsum('pij,pj->pi', rotations, points) + translations
    x, y = moved[:, 0] / moved[:, 2], moved[:, 1] / moved[:, 2]
    fx, fy, cx, cy, k1, k2, p1, p2, k3 = lens.T
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return np.stack([fx * xd + cx, fy * yd + cy], axis=1)


class BundleProblem:
    """The parameter layout: free camera poses, then board poses, then the refined lenses. The
    fixed camera is the reference frame (identity pose, not a parameter)."""

    def __init__(self, observations: Observations, cameras: int, frames: int, fixed: int,
                 refined: list[int]) -> None:
        self.obs, self.cameras, self.frames = observations, cameras, frames
        self.fixed, self.refined = fixed, refined
        self.free = [c for c in range(cameras) if c != fixed]
        self.board_start = len(self.free) * POSE
        self.lens_start = self.board_start + frames * POSE

    def pack(self, camera_poses: list[np.ndarray], board_poses: list[np.ndarray],
             lenses: list[Intrinsics]) -> np.ndarray:
        parts = [to_vector(camera_poses[c]) for c in self.free]
        parts += [to_vector(pose) for pose in board_poses]
        parts += [lenses[c].vector()[:LENS] for c in self.refined]
        return np.concatenate(parts)

    def unpack(self, x: np.ndarray, lenses: list[Intrinsics]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(C, 6) camera pose vectors (the fixed one zero), (F, 6) board vectors, (C, 9) lenses."""
        cameras = np.zeros((self.cameras, POSE))
        cameras[self.free] = x[:self.board_start].reshape(-1, POSE)
        boards = x[self.board_start:self.lens_start].reshape(-1, POSE)
        lens = np.stack([lens.vector() for lens in lenses])
        lens[self.refined, :LENS] = x[self.lens_start:].reshape(-1, LENS)
        return cameras, boards, lens

    def residuals(self, x: np.ndarray, lenses: list[Intrinsics]) -> np.ndarray:
        cameras, boards, lens = self.unpack(x, lenses)
        camera_r = Rotation.from_rotvec(cameras[:, :3]).as_matrix()
        board_r = Rotation.from_rotvec(boards[:, :3]).as_matrix()
        c, f = self.obs.camera, self.obs.frame
        rotations = camera_r[c] @ board_r[f]
        translations = np.einsum('pij,pj->pi', camera_r[c], boards[f, 3:]) + cameras[c, 3:]
        pixels = project(rotations, translations, self.obs.points, lens[c])
        return (pixels - self.obs.pixels).ravel()

    def sparsity(self, size: int) -> lil_matrix:
        pattern = lil_matrix((2 * len(self.obs.camera), size), dtype=np.int8)
        rows = np.arange(len(self.obs.camera))
        for row in (2 * rows, 2 * rows + 1):
            for k in range(POSE):
                pattern[row, self.board_start + self.obs.frame * POSE + k] = 1
            for free_index, camera in enumerate(self.free):
                mine = row[self.obs.camera == camera]
                for k in range(POSE):
                    pattern[mine, free_index * POSE + k] = 1
            for slot, camera in enumerate(self.refined):
                mine = row[self.obs.camera == camera]
                for k in range(LENS):
                    pattern[mine, self.lens_start + slot * LENS + k] = 1
        return pattern


def bundle_adjust(observations: Observations, camera_poses: list[np.ndarray],
                  board_poses: list[np.ndarray], lenses: list[Intrinsics], fixed: int,
                  refined: list[int]) -> Solution:
    """Refine everything from the initial poses. Camera `fixed` is the reference frame itself
    (its T_camera_reference is the identity and stays so)."""
    problem = BundleProblem(observations, len(camera_poses), len(board_poses), fixed, refined)
    x0 = problem.pack(camera_poses, board_poses, lenses)
    result = least_squares(problem.residuals, x0, args=(lenses,), loss='huber',
                           f_scale=HUBER_PX, x_scale='jac', method='trf',
                           jac_sparsity=problem.sparsity(len(x0)), xtol=1e-10, ftol=1e-10,
                           max_nfev=200)
    cameras, boards, lens = problem.unpack(result.x, lenses)
    return Solution(
        camera_poses=[from_vector(v) for v in cameras],
        board_poses=[from_vector(v) for v in boards],
        lenses=[lenses[c].with_vector(lens[c]) for c in range(len(lenses))],
        residuals=problem.residuals(result.x, lenses).reshape(-1, 2))
