"""One bundle adjustment over every board corner every camera saw.

Unknowns: each camera's pose (one camera fixed: it is the frame the others are solved in),
each board pose (one per frame index), and the intrinsics (fx, fy, cx, cy, k1, k2, and p1,
p2 when asked; the others stay as calibrate_intrinsics left them: 0) of the cameras whose lens
was estimated (a camera_info lens stays as given).
Residuals: reprojection errors in pixels, under a Huber loss so a badly detected corner cannot
pull the solution. The Jacobian is exact (OpenCV's projection and pose-composition derivatives)
and the trust-region steps are solved exactly: the principal point and the cameras' rotations
are nearly interchangeable, and an inexact (LSMR) step did not converge in 200 iterations
where the exact one takes 5-20.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from interhand_ros.calibration.intrinsics import Intrinsics
from interhand_ros.calibration.poses import from_vector, to_vector

HUBER_PX = 1.0  # residuals beyond this count linearly: outlying corners lose their pull
POSE = 6
RADIAL, TANGENTIAL = (0, 1, 2, 3, 4, 5), (0, 1, 2, 3, 4, 5, 6, 7)  # of Intrinsics.vector()


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
                 refined: list[int], lens_params: tuple[int, ...] = RADIAL) -> None:
        self.obs, self.cameras, self.frames = observations, cameras, frames
        self.fixed, self.refined = fixed, refined
        self.lens_params, self.lens_size = list(lens_params), len(lens_params)
        self.free = [c for c in range(cameras) if c != fixed]
        self.board_start = len(self.free) * POSE
        self.lens_start = self.board_start + frames * POSE
        pairs = np.stack([observations.camera, observations.frame], axis=1)
        self.blocks = [(int(c), int(f), np.flatnonzero((pairs == (c, f)).all(axis=1)))
                       for c, f in np.unique(pairs, axis=0)]

    def pack(self, camera_poses: list[np.ndarray], board_poses: list[np.ndarray],
             lenses: list[Intrinsics]) -> np.ndarray:
        parts = [to_vector(camera_poses[c]) for c in self.free]
        parts += [to_vector(pose) for pose in board_poses]
        parts += [lenses[c].vector()[self.lens_params] for c in self.refined]
        return np.concatenate(parts)

    def unpack(self, x: np.ndarray, lenses: list[Intrinsics]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(C, 6) camera pose vectors (the fixed one zero), (F, 6) board vectors, (C, 9) lenses."""
        cameras = np.zeros((self.cameras, POSE))
        cameras[self.free] = x[:self.board_start].reshape(-1, POSE)
        boards = x[self.board_start:self.lens_start].reshape(-1, POSE)
        lens = np.stack([lens.vector() for lens in lenses])
        refined = x[self.lens_start:].reshape(-1, self.lens_size)
        for slot, camera in enumerate(self.refined):
            lens[camera, self.lens_params] = refined[slot]
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

    def jacobian(self, x: np.ndarray, lenses: list[Intrinsics]) -> np.ndarray:
        """Exact, dense: per (camera, board pose) block, cv2.projectPoints' derivatives of the
        pixels by the composed pose and the lens, chained through cv2.composeRT's derivatives
        of the composed pose by the board's and the camera's."""
        cameras, boards, lens = self.unpack(x, lenses)
        jac = np.zeros((2 * len(self.obs.camera), len(x)))
        for camera, frame, points in self.blocks:
            rows = np.stack([2 * points, 2 * points + 1], axis=1).ravel()
            (rvec, tvec, dr_db, dr_dbt, dr_dc, dr_dct, dt_db, dt_dbt, dt_dc,
             dt_dct) = cv2.composeRT(boards[frame, :3], boards[frame, 3:], cameras[camera, :3],
                                     cameras[camera, 3:])
            k = lens[camera]
            matrix = np.array([[k[0], 0.0, k[2]], [0.0, k[1], k[3]], [0.0, 0.0, 1.0]])
            _, d = cv2.projectPoints(self.obs.points[points], rvec, tvec, matrix, k[4:9])
            d_rvec, d_tvec = d[:, 0:3], d[:, 3:6]
            board = self.board_start + frame * POSE
            jac[rows, board:board + 3] = d_rvec @ dr_db + d_tvec @ dt_db
            jac[rows, board + 3:board + 6] = d_rvec @ dr_dbt + d_tvec @ dt_dbt
            if camera in self.free:
                column = self.free.index(camera) * POSE
                jac[rows, column:column + 3] = d_rvec @ dr_dc + d_tvec @ dt_dc
                jac[rows, column + 3:column + 6] = d_rvec @ dr_dct + d_tvec @ dt_dct
            if camera in self.refined:
                column = self.lens_start + self.refined.index(camera) * self.lens_size
                # d's lens columns: fx, fy, cx, cy, k1, k2, p1, p2, k3 (Intrinsics.vector order)
                jac[rows, column:column + self.lens_size] = d[:, [6 + i for i in self.lens_params]]
        return jac


def bundle_adjust(observations: Observations, camera_poses: list[np.ndarray],
                  board_poses: list[np.ndarray], lenses: list[Intrinsics], fixed: int,
                  refined: list[int], tangential: bool = False) -> Solution:
    """Refine everything from the initial poses. Camera `fixed` is the reference frame itself
    (its T_camera_reference is the identity and stays so)."""
    problem = BundleProblem(observations, len(camera_poses), len(board_poses), fixed, refined,
                            TANGENTIAL if tangential else RADIAL)
    x0 = problem.pack(camera_poses, board_poses, lenses)
    result = least_squares(problem.residuals, x0, jac=problem.jacobian, args=(lenses,),
                           loss='huber', f_scale=HUBER_PX, x_scale='jac', method='trf',
                           tr_solver='exact', xtol=1e-10, ftol=1e-10, max_nfev=100)
    cameras, boards, lens = problem.unpack(result.x, lenses)
    return Solution(
        camera_poses=[from_vector(v) for v in cameras],
        board_poses=[from_vector(v) for v in boards],
        lenses=[lenses[c].with_vector(lens[c]) for c in range(len(lenses))],
        residuals=problem.residuals(result.x, lenses).reshape(-1, 2))
