"""What a wrong board size shows in the images, and what it does not.

Images do not show a board's absolute size: a board twice as large twice as far looks the
same, so a wrong `--square` with the right marker-to-square ratio scales every translation by
the same factor and no reprojection error reveals it. Two things are visible and checked:
- the marker-to-square ratio: the markers' sides, mapped onto the board plane through the
  homography the chessboard corners give, measure `marker / square` squares; a different
  ratio than the flags say means one of the two sizes is wrong (CalibrationError);
- the board's distance: sizes given in millimetres or centimetres put the cameras tens of
  metres or millimetres from the board (a warning, since a large room is possible).
"""
from __future__ import annotations

import cv2
import numpy as np

from interhand_ros.calibration.board import BoardSpec
from interhand_ros.calibration.detection import Detection
from interhand_ros.calibration.intrinsics import CalibrationError, Intrinsics

# The markers' detected outlines lie about half a pixel inside their printed edges, so the
# ratio reads 1-5 % low (measured on rendered boards at 30-45 px per square); 10 % still
# catches a size off by 15 % or more.
RATIO_TOLERANCE = 0.10
MIN_RATIO_VIEWS = 3
# Camera to board: a 5 cm square is about 10 px at 5 m with a 1000 px focal, the least the
# detector needs; a board held 10 cm from a lens is out of focus.
PLAUSIBLE_DISTANCE_M = (0.1, 5.0)


def marker_ratio(spec: BoardSpec, detection: Detection, lens: Intrinsics | None) -> float | None:
    """Median marker side / square side on the board plane in one view (None: too little)."""
    if len(detection) < 8 or len(detection.marker_ids) < 2:
        return None
    corners, markers = detection.corners, detection.marker_corners.reshape(-1, 2)
    if lens is not None:  # the homography holds for undistorted pixels
        corners = cv2.undistortPoints(corners.reshape(-1, 1, 2), lens.matrix,
                                      lens.distortion).reshape(-1, 2)
        markers = cv2.undistortPoints(markers.reshape(-1, 1, 2), lens.matrix,
                                      lens.distortion).reshape(-1, 2)
    board_xy = spec.corner_points()[detection.ids, :2] / spec.square_m
    homography, _ = cv2.findHomography(corners, board_xy, cv2.RANSAC, 0.05)
    if homography is None:
        return None
    on_board = cv2.perspectiveTransform(markers.reshape(-1, 1, 2), homography).reshape(-1, 4, 2)
    sides = np.linalg.norm(on_board - np.roll(on_board, 1, axis=1), axis=2)
    return float(np.median(sides))


def check_marker_ratio(name: str, spec: BoardSpec, detections: list[Detection],
                       lens: Intrinsics | None) -> float | None:
    """The measured ratio; CalibrationError when it disagrees with --marker / --square."""
    ratios = [r for d in detections if (r := marker_ratio(spec, d, lens)) is not None]
    if len(ratios) < MIN_RATIO_VIEWS:
        return None
    measured, expected = float(np.median(ratios)), spec.marker_m / spec.square_m
    if abs(measured / expected - 1.0) > RATIO_TOLERANCE:
        raise CalibrationError(
            f'{name}: the markers measure {measured:.3f} of a square in its images, but '
            f'--marker {spec.marker_m:g} / --square {spec.square_m:g} = {expected:.3f}: one of '
            f'the sizes is wrong. Measure a printed square and marker with a ruler and give '
            f'both in metres (the printed sizes, not the file\'s)')
    return measured


def distance_warning(name: str, distances_m: list[float]) -> str | None:
    """A warning when the board is implausibly near or far: sizes in the wrong unit."""
    if not distances_m:
        return None
    median = float(np.median(distances_m))
    low, high = PLAUSIBLE_DISTANCE_M
    if low <= median <= high:
        return None
    return (f'{name}: the board is {median:.3g} m from the camera on average: are --square and '
            f'--marker in metres (0.05 for 5 cm)? A wrong size scales every translation')
