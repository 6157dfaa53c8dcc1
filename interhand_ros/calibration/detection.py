"""The board's corners in one image: ChArUco ids, sub-pixel positions, and the markers seen.

OpenCV's CharucoDetector up to 4.12 returns corners shifted by +0.5 px in x and y (its
sub-pixel step shifts the points by half a pixel and back; opencv/opencv#25539, fixed in
#28380). Measured here on rendered boards: +0.49 px. So the corners are refined once more with
cv2.cornerSubPix, which converges to the saddle point from wherever it starts, in a window
that stays inside the four squares around the corner (clear of the markers' corners); with
a fixed OpenCV this refinement changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from interhand_ros.calibration.board import BoardSpec

MIN_CORNERS = 6  # fewer inner corners give no usable board pose
MAX_WINDOW_PX = 10
SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 50, 1e-4)


@dataclass(frozen=True)
class Detection:
    """One image's board corners (ids index BoardSpec.corner_points) and its ArUco markers."""

    ids: np.ndarray              # (N,) int
    corners: np.ndarray          # (N, 2) float64 pixels (OpenCV: pixel centres at integers)
    marker_ids: np.ndarray       # (M,) int
    marker_corners: np.ndarray   # (M, 4, 2) float64 pixels, each marker's corners clockwise

    def __len__(self) -> int:
        return len(self.ids)


class BoardDetector:
    """Finds one board's corners; images without MIN_CORNERS usable corners give None."""

    def __init__(self, spec: BoardSpec) -> None:
        self.spec = spec
        self.detector = cv2.aruco.CharucoDetector(spec.charuco_board())

    def detect(self, image: np.ndarray) -> Detection | None:
        """image: grey (H, W) or RGB (H, W, 3) uint8."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        corners, ids, marker_corners, marker_ids = self.detector.detectBoard(grey)
        if ids is None or len(ids) < MIN_CORNERS:
            return None
        corners = self.refine(grey, corners.reshape(-1, 1, 2).astype(np.float32))
        detection = Detection(
            ids=ids.reshape(-1).astype(int), corners=corners.reshape(-1, 2).astype(np.float64),
            marker_ids=marker_ids.reshape(-1).astype(int),
            marker_corners=np.asarray(marker_corners, dtype=np.float64).reshape(-1, 4, 2))
        return detection if self.spans_plane(detection.ids) else None

    def refine(self, grey: np.ndarray, corners: np.ndarray) -> np.ndarray:
        """cornerSubPix with a half-window of the white margin between a corner and the
        nearest marker (in pixels, from the median corner spacing)."""
        flat = corners.reshape(-1, 2)
        gaps = np.linalg.norm(flat[:, None] - flat[None], axis=2)
        np.fill_diagonal(gaps, np.inf)
        square_px = float(np.median(gaps.min(axis=1)))
        margin = (self.spec.square_m - self.spec.marker_m) / (2 * self.spec.square_m)
        half = int(np.clip(np.floor(margin * square_px), 2, MAX_WINDOW_PX))
        return cv2.cornerSubPix(grey, corners, (half, half), (-1, -1), SUBPIX_CRITERIA)

    def spans_plane(self, ids: np.ndarray) -> bool:
        """Corners on at least two rows and two columns: one line of corners gives no pose."""
        rows, columns = np.divmod(ids, self.spec.squares_x - 1)
        return len(np.unique(rows)) > 1 and len(np.unique(columns)) > 1
