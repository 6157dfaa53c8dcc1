"""ChArUco boards rendered from known cameras: the ground truth for the calibration tests and
benchmarks/calibration_accuracy.py (one renderer for both).

A view is traced, not drawn: every pixel (2x supersampled) is undistorted through the true
plumb_bob lens, its ray intersected with the board plane and the printed board sampled there,
then blurred, lit unevenly and given sensor noise. A board seen from behind shows its blank
back. Truth corners are the board's corners projected by cv2.projectPoints with the same lens.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from interhand_ros.calibration.board import BoardSpec
from interhand_ros.calibration.detection import Detection
from interhand_ros.calibration.intrinsics import Intrinsics
from interhand_ros.calibration.poses import rotation_angle_deg, transform
from interhand_ros.geometry.transforms import invert
from tools.synthetic_scene import look_at

SUPERSAMPLE = 2
PAPER_MARGIN = 0.5    # white paper around the chequered area, in squares
BACKGROUND = 110      # grey of whatever is behind the board
BOARD_BACK = 200      # a board seen from behind: its blank back


@dataclass(frozen=True)
class RenderCamera:
    """A known camera: its lens and T_world_camera (its optical frame in the world)."""

    name: str
    lens: Intrinsics
    pose: np.ndarray

    @cached_property
    def rays(self) -> np.ndarray:
        """(H*S, W*S, 2) normalised image coordinates of every supersampled pixel."""
        s, width, height = SUPERSAMPLE, self.lens.width, self.lens.height
        u = (np.arange(width * s) + 0.5) / s - 0.5
        v = (np.arange(height * s) + 0.5) / s - 0.5
        grid = np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 1, 2)
        criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 50, 1e-9)
        normalised = cv2.undistortPointsIter(
            grid, self.lens.matrix, self.lens.distortion, np.eye(3), np.eye(3), criteria)
        return normalised.reshape(height * s, width * s, 2).astype(np.float32)


def lens(width: int, height: int, focal: float, distortion: tuple[float, ...]) -> Intrinsics:
    """A lens with the principal point a little off centre, as real ones are."""
    matrix = np.array([[focal, 0.0, width / 2 + 6.5], [0.0, focal * 1.001, height / 2 - 4.5],
                       [0.0, 0.0, 1.0]])
    return Intrinsics(matrix, np.asarray(distortion, dtype=np.float64), width, height)


class BoardRenderer:
    """Renders one board from RenderCameras at board poses T_world_board."""

    def __init__(self, spec: BoardSpec, pixels_per_metre: float = 4000.0) -> None:
        self.spec, self.ppm = spec, pixels_per_metre
        margin = round(PAPER_MARGIN * spec.square_m * pixels_per_metre)
        self.margin = margin
        self.texture = cv2.copyMakeBorder(spec.image(pixels_per_metre), margin, margin, margin,
                                          margin, cv2.BORDER_CONSTANT, value=(255,))

    def render(self, camera: RenderCamera, board_pose: np.ndarray, rng: np.random.Generator,
               blur_px: float = 0.6, noise: float = 2.0) -> np.ndarray:
        """uint8 grey image of the board at T_world_board seen by the camera."""
        camera_board = invert(camera.pose) @ board_pose
        s = SUPERSAMPLE
        canvas = np.full((camera.lens.height * s, camera.lens.width * s), BACKGROUND, np.uint8)
        rows, cols = self._extent(camera, camera_board)
        # Normalised image point (x, y, 1) -> board plane: the inverse of H = [r1 r2 t].
        plane = np.linalg.inv(camera_board[:3, [0, 1, 3]])
        rays = camera.rays[rows, cols]
        homogeneous = (rays[..., 0, None] * plane[:, 0] + rays[..., 1, None] * plane[:, 1]
                       + plane[:, 2])
        in_front = homogeneous[..., 2] > 0  # the plane point is ahead of the camera
        board_xy = homogeneous[..., :2] / homogeneous[..., 2:3]
        maps = (board_xy * self.ppm + self.margin - 0.5).astype(np.float32)
        patch = cv2.remap(self.texture, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(BACKGROUND,))
        patch = np.where(in_front, patch, BACKGROUND).astype(np.uint8)
        if (invert(camera_board) @ np.array([0.0, 0.0, 0.0, 1.0]))[2] > 0:  # seen from behind
            patch = np.where((patch != BACKGROUND) & in_front, BOARD_BACK, patch).astype(np.uint8)
        canvas[rows, cols] = patch
        image = np.asarray(cv2.resize(canvas, (camera.lens.width, camera.lens.height),
                                      interpolation=cv2.INTER_AREA), dtype=np.float32)
        if blur_px > 0:
            image = np.asarray(cv2.GaussianBlur(image, (0, 0), blur_px), dtype=np.float32)
        gradient = np.linspace(0.8, 1.05, camera.lens.width, dtype=np.float32)[None, :]
        shaded = image * gradient * rng.uniform(0.8, 1.1) + rng.normal(0.0, noise, image.shape)
        return np.clip(shaded, 0, 255).astype(np.uint8)

    def _extent(self, camera: RenderCamera, camera_board: np.ndarray) -> tuple[slice, slice]:
        """Supersampled rows and columns that can show the paper (all of them when part of
        it is behind the camera): tracing only these keeps a view fast."""
        s, (width, height) = SUPERSAMPLE, self.spec.size_m
        pad = PAPER_MARGIN * self.spec.square_m
        t = np.linspace(0.0, 1.0, 25)
        xs = np.concatenate([t * (width + 2 * pad), np.full(25, width + 2 * pad),
                             t * (width + 2 * pad), np.zeros(25)]) - pad
        ys = np.concatenate([np.zeros(25), t * (height + 2 * pad),
                             np.full(25, height + 2 * pad), t * (height + 2 * pad)]) - pad
        outline = np.stack([xs, ys, np.zeros_like(xs)], axis=1)
        in_camera = outline @ camera_board[:3, :3].T + camera_board[:3, 3]
        full = slice(0, camera.lens.height * s), slice(0, camera.lens.width * s)
        if np.any(in_camera[:, 2] <= 0.05):
            return full
        rvec = Rotation.from_matrix(camera_board[:3, :3]).as_rotvec()
        pixels, _ = cv2.projectPoints(outline, rvec, camera_board[:3, 3], camera.lens.matrix,
                                      camera.lens.distortion)
        low = np.floor((pixels.reshape(-1, 2).min(axis=0) - 2) * s).astype(int)
        high = np.ceil((pixels.reshape(-1, 2).max(axis=0) + 3) * s).astype(int)
        low = np.maximum(low, 0)
        high = np.minimum(high, [camera.lens.width * s, camera.lens.height * s])
        if np.any(high <= low):
            return slice(0, 0), slice(0, 0)
        return slice(low[1], high[1]), slice(low[0], high[0])

    def true_corners(self, camera: RenderCamera, board_pose: np.ndarray) -> np.ndarray:
        """(corner_count, 2) projected truth for every corner id (in view or not)."""
        return project_corners(self.spec, camera, board_pose)


def project_corners(spec: BoardSpec, camera: RenderCamera, board_pose: np.ndarray
                    ) -> np.ndarray:
    """(corner_count, 2) pixels of every corner id through the camera's true lens."""
    camera_board = invert(camera.pose) @ board_pose
    rvec = Rotation.from_matrix(camera_board[:3, :3]).as_rotvec()
    pixels, _ = cv2.projectPoints(spec.corner_points(), rvec, camera_board[:3, 3],
                                  camera.lens.matrix, camera.lens.distortion)
    return pixels.reshape(-1, 2)


def board_poses(count: int, target: np.ndarray, facing: np.ndarray, spec: BoardSpec,
                rng: np.random.Generator, tilt_deg: float = 35.0,
                spread_m: float = 0.15) -> list[np.ndarray]:
    """T_world_board of a hand-held board: centred near target (+-spread_m), its face towards
    `facing` (a point, e.g. the cameras' centre), tilted up to tilt_deg about a random in-plane
    axis and turned up to 30 degrees about its normal."""
    poses = []
    width, height = spec.size_m
    for _ in range(count):
        centre = target + rng.uniform(-spread_m, spread_m, 3) * np.array([1.0, 1.0, 0.6])
        face = look_at(facing, centre)  # z from the cameras towards the board = board z
        axis_angle = rng.uniform(0, 2 * np.pi)
        tilt = Rotation.from_rotvec(np.radians(rng.uniform(-tilt_deg, tilt_deg))
                                    * np.array([np.cos(axis_angle), np.sin(axis_angle), 0.0]))
        turn = Rotation.from_rotvec(np.radians(rng.uniform(-30, 30)) * np.array([0, 0, 1.0]))
        rotation = face[:3, :3] @ (tilt * turn).as_matrix()
        # The board's origin is its top-left corner: put its centre at `centre`.
        origin = centre - rotation @ np.array([width / 2, height / 2, 0.0])
        poses.append(transform(rotation, origin))
    return poses


def camera_rig(count: int, target: np.ndarray, distance_m: float, lens_of: Intrinsics,
               rng: np.random.Generator, arc_deg: float = 70.0) -> list[RenderCamera]:
    """count cameras on an arc of arc_deg about target, distance_m away, all looking at it
    (heights and rolls varied a little), named cam1..camN."""
    cameras = []
    for index, angle in enumerate(np.linspace(-arc_deg / 2, arc_deg / 2, count)):
        a = np.radians(angle + rng.uniform(-3, 3))
        position = target + distance_m * np.array([np.sin(a), -np.cos(a), 0.0])
        position[2] += rng.uniform(-0.15, 0.25)
        cameras.append(RenderCamera(f'cam{index + 1}', lens_of,
                                    look_at(position, target, rng.uniform(-8, 8))))
    return cameras


def write_views(folder: Path, renderer: BoardRenderer, cameras: list[RenderCamera],
                poses: list[np.ndarray], rng: np.random.Generator,
                hidden: dict[str, set[int]] | None = None) -> dict[str, Path]:
    """Each camera's views as folder/<camera>/000000.png... (one index per board pose); a view
    in hidden[camera] shows no board (the board out of that camera's sight)."""
    hidden = hidden or {}
    folders = {}
    for camera in cameras:
        folders[camera.name] = folder / camera.name
        folders[camera.name].mkdir(parents=True, exist_ok=True)
        for index, pose in enumerate(poses):
            if index in hidden.get(camera.name, ()):
                image = np.full((camera.lens.height, camera.lens.width), BACKGROUND, np.uint8)
            else:
                image = renderer.render(camera, pose, rng)
            cv2.imwrite(str(folders[camera.name] / f'{index:06d}.png'), image)
    return folders



DISTORTION = (-0.12, 0.05, 0.0005, -0.0003, 0.0)  # a typical webcam / robot camera lens


def make_scene(spec: BoardSpec, rng: np.random.Generator, cameras: int = 3, poses: int = 30,
               size: tuple[int, int] = (1280, 720), focal: float = 900.0,
               distance_m: float = 1.0, tilt_deg: float = 35.0, spread_m: float = 0.15,
               partial: float = 0.0, oblique: float = 0.0
               ) -> tuple[list[RenderCamera], list[np.ndarray]]:
    """A rig of cameras distance_m from a point 1 m up, and a hand-held board's poses there;
    a `partial` fraction of the poses is pushed 0.3-0.45 m sideways or up, so that the board
    leaves some cameras' images in part, and an `oblique` fraction turned 60-75 degrees about
    its vertical axis (too oblique for some cameras to see)."""
    target = np.array([0.0, 0.0, 1.0])
    rig = camera_rig(cameras, target, distance_m, lens(*size, focal, DISTORTION), rng)
    centre = np.mean([camera.pose[:3, 3] for camera in rig], axis=0)
    found = board_poses(poses, target, centre, spec, rng, tilt_deg, spread_m)
    for index in range(0, poses, round(1 / partial)) if partial else ():
        push = rng.uniform(0.3, 0.45) * rng.choice([-1.0, 1.0])
        found[index][:3, 3] += [push, 0.0, 0.0] if index % 2 else [0.0, 0.0, push * 0.6]
    for index in range(3, poses, round(1 / oblique)) if oblique else ():
        turn = np.radians(rng.uniform(60, 75) * rng.choice([-1.0, 1.0]))
        centre = found[index] @ np.array([spec.size_m[0] / 2, spec.size_m[1] / 2, 0.0, 1.0])
        rotation = found[index][:3, :3] @ Rotation.from_rotvec([0.0, turn, 0.0]).as_matrix()
        found[index] = transform(rotation, centre[:3] - rotation @ np.array(
            [spec.size_m[0] / 2, spec.size_m[1] / 2, 0.0]))
    return rig, found


def relative_error(true_a: np.ndarray, true_b: np.ndarray, found_a: np.ndarray,
                   found_b: np.ndarray) -> tuple[float, float]:
    """(translation m, rotation deg) error of camera b's pose relative to camera a's: what
    fusion needs, independent of where the world frame is."""
    truth, found = invert(true_a) @ true_b, invert(found_a) @ found_b
    error = invert(truth) @ found
    return float(np.linalg.norm(truth[:3, 3] - found[:3, 3])), rotation_angle_deg(error)


def projected_detection(spec: BoardSpec, camera: RenderCamera, board_pose: np.ndarray,
                        rng: np.random.Generator, noise_px: float = 0.1) -> Detection | None:
    """The corners a perfect detector would find (projected truth + Gaussian noise, those in
    the image), without rendering: for fast solver tests. No markers."""
    camera_board = invert(camera.pose) @ board_pose
    depth = spec.corner_points() @ camera_board[:3, :3].T + camera_board[:3, 3]
    pixels = project_corners(spec, camera, board_pose)
    inside = ((depth[:, 2] > 0) & (pixels[:, 0] >= 0) & (pixels[:, 1] >= 0)
              & (pixels[:, 0] < camera.lens.width) & (pixels[:, 1] < camera.lens.height))
    if inside.sum() < 6:
        return None
    ids = np.flatnonzero(inside)
    return Detection(ids, pixels[ids] + rng.normal(0.0, noise_px, (len(ids), 2)),
                     np.zeros(0, int), np.zeros((0, 4, 2)))
