"""Fallback estimator without an InterNet checkpoint: MediaPipe's bundled hand-landmark model,
lifted to metric 3D in the camera optical frame.

MediaPipe gives, per hand, 21 landmarks in pixels and the same 21 landmarks in metres relative
to the hand's centre ("world" landmarks, axes roughly those of the camera). The hand's pose in
the camera is solved with PnP: first a closed-form translation assuming the world axes are the
camera's, then a Levenberg-Marquardt refinement of rotation and translation from there (the good
start keeps it away from the mirror solution that nearly planar hands allow). Absolute scale comes
from the model's metric hand size, so depth is only as good as that (about +-15 % for adults).
With a registered depth image the hand is instead scaled about the camera centre (which keeps
every projection) until its palm lies at the measured depth.

MediaPipe was built for single hands: use InterNet for interacting hands.
"""
from __future__ import annotations

import math
import time
from dataclasses import replace

import cv2
import numpy as np

from interhand_ros.estimate import (
    DepthSource,
    EstimatorKind,
    HandEstimate,
    TwoHandEstimate,
    check_rgb_image,
)
from interhand_ros.geometry.box import Box, clip_box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.root_depth import (
    DEPTH_WINDOW_FRACTION,
    DepthImage,
    root_depth_from_depth_image,
)
from interhand_ros.geometry.wrist_frame import identity_quaternion, wrist_quaternion
from interhand_ros.landmarks.detection import LandmarkHand, MediaPipeHands
from interhand_ros.skeleton import LEFT, NUM_JOINTS, RIGHT, SIDES, WRIST

MIN_DEPTH = 0.05  # m: a solution nearer than this is not a hand in front of the camera


class PoseLiftError(ValueError):
    """The landmarks could not be placed in front of the camera."""


def translation_for_fixed_rotation(world: np.ndarray, pixels: np.ndarray,
                                   intrinsics: tuple[float, float, float, float]) -> np.ndarray:
    """Least-squares translation t so that world + t projects onto the (undistorted) pixels.

    Each point gives two equations linear in t: fx (X + tx) = (u - cx)(Z + tz), likewise for y.
    """
    fx, fy, cx, cy = intrinsics
    du, dv = pixels[:, 0] - cx, pixels[:, 1] - cy
    count = len(world)
    a = np.zeros((2 * count, 3))
    b = np.zeros(2 * count)
    a[:count, 0], a[:count, 2] = fx, -du
    b[:count] = du * world[:, 2] - fx * world[:, 0]
    a[count:, 1], a[count:, 2] = fy, -dv
    b[count:] = dv * world[:, 2] - fy * world[:, 1]
    translation, *_ = np.linalg.lstsq(a, b, rcond=None)
    return translation


def lift_to_camera(world: np.ndarray, pixels: np.ndarray,
                   intrinsics: tuple[float, float, float, float]) -> np.ndarray:
    """Metric hand landmarks (21, 3) placed in the camera optical frame to match their pixels.

    pixels must be undistorted (pinhole). Raises PoseLiftError if no solution lies in front.
    """
    world = np.asarray(world, dtype=np.float64)
    pixels = np.asarray(pixels, dtype=np.float64)
    if world.shape != (NUM_JOINTS, 3) or pixels.shape != (NUM_JOINTS, 2):
        raise ValueError(f'expected (21, 3) and (21, 2), got {world.shape} and {pixels.shape}')
    if not (np.isfinite(world).all() and np.isfinite(pixels).all()):
        raise PoseLiftError('landmarks are not finite')
    fx, fy, cx, cy = intrinsics
    start = translation_for_fixed_rotation(world, pixels, intrinsics)
    if not np.isfinite(start).all() or start[2] + world[:, 2].min() < MIN_DEPTH:
        raise PoseLiftError(f'no solution in front of the camera (translation {start})')
    matrix = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    guess_rvec, guess_tvec = np.zeros((3, 1)), start.reshape(3, 1).copy()
    no_distortion = np.zeros(5)  # the pixels are already undistorted
    ok, rvec, tvec = cv2.solvePnP(world, pixels, matrix, no_distortion, guess_rvec, guess_tvec,
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    rotation = cv2.Rodrigues(rvec)[0]
    refined = world @ rotation.T + tvec.reshape(1, 3)
    if ok and np.isfinite(refined).all() and refined[:, 2].min() >= MIN_DEPTH:
        return refined
    return world + start


class LandmarkEstimator:
    """HandPoseEstimator built on MediaPipe Hands (EstimatorKind.LANDMARK, DepthSource.PNP).

    mirrored: the input is a mirrored (selfie) view; keeps MediaPipe's handedness labels as they
    are. video: consecutive calls are frames of one video (MediaPipe tracks between them).
    """

    finds_hands = True  # MediaPipe's palm detection searches the whole image

    def __init__(self, min_confidence: float = 0.5, mirrored: bool = False,
                 video: bool = False, model_complexity: int = 1) -> None:
        self._hands = MediaPipeHands(max_hands=2, min_confidence=min_confidence,
                                     mirrored=mirrored, static_image_mode=not video,
                                     model_complexity=model_complexity)

    def estimate(self, image_rgb: np.ndarray, camera: CameraModel,
                 roi: Box | None = None, depth: DepthImage | None = None
                 ) -> TwoHandEstimate:
        """Both hands of an RGB uint8 image; roi limits the search (None: the whole image).

        depth: registered depth image; where it has valid data at the palm it sets the hands'
        distance (DEPTH_IMAGE), elsewhere the model's metric hand size does (PNP).
        """
        started = time.perf_counter()
        check_rgb_image(image_rgb)
        height, width = image_rgb.shape[:2]
        camera = camera.for_image(width, height)
        pixel_roi = _pixel_roi(roi, width, height)
        x0, y0 = int(pixel_roi.x), int(pixel_roi.y)
        found = self._hands.process(
            image_rgb[y0:y0 + int(pixel_roi.h), x0:x0 + int(pixel_roi.w)])
        found = [replace(hand, pixels=hand.pixels + (x0, y0)) for hand in found]
        hands = {side: _missing_hand(side) for side in SIDES}
        radius = max(1, round(DEPTH_WINDOW_FRACTION * max(pixel_roi.w, pixel_roi.h)))
        for side, hand in assign_sides(found):
            hands[side] = self._hand_estimate(side, hand, camera, depth, radius)
        right, left = hands[RIGHT], hands[LEFT]
        both = right.detected and left.detected
        right_to_left = left.wrist_position - right.wrist_position if both else np.full(3, np.nan)
        return TwoHandEstimate(
            right=right, left=left,
            relative_root_depth=float(right_to_left[2]) if both else float('nan'),
            relative_root_depth_valid=both,
            right_to_left_root=right_to_left,
            depth_source=_scene_depth_source(right, left),
            estimator=EstimatorKind.LANDMARK,
            roi=pixel_roi,
            inference_time=time.perf_counter() - started)

    def _hand_estimate(self, side: str, hand: LandmarkHand,
                       camera: CameraModel, depth: DepthImage | None,
                       radius_px: int) -> HandEstimate:
        undistorted = camera.undistort_pixels(hand.pixels)
        try:
            joints = lift_to_camera(hand.world, undistorted,
                                    (camera.fx, camera.fy, camera.cx, camera.cy))
        except PoseLiftError:
            return _missing_hand(side)
        depth_source = DepthSource.PNP
        if depth is not None:
            relative = joints[:, 2] - joints[WRIST, 2]
            measured = root_depth_from_depth_image(depth, hand.pixels, relative,
                                                   (camera.width, camera.height), radius_px)
            if measured is not None:
                joints = joints * (measured / joints[WRIST, 2])
                depth_source = DepthSource.DEPTH_IMAGE
        quaternion = wrist_quaternion(joints, side)
        # MediaPipe exposes no presence score (every hand it returns passed min_confidence); its
        # handedness score, >= 0.5 for the chosen label, is the confidence it does give.
        presence = hand.side_score
        return HandEstimate(
            side=side, presence=presence, detected=True, joints=joints,
            pixels=hand.pixels.copy(), confidence=np.full(NUM_JOINTS, presence),
            valid=np.ones(NUM_JOINTS, dtype=bool), wrist_position=joints[WRIST].copy(),
            wrist_quaternion=quaternion if quaternion is not None else identity_quaternion(),
            depth_source=depth_source)

    def describe(self) -> str:
        """One line naming what runs (see HandPoseEstimator)."""
        return 'MediaPipe landmark fallback (no InterNet checkpoint)'

    def close(self) -> None:
        """Release MediaPipe's graph (its threads and model); once, when done."""
        self._hands.close()


def assign_sides(hands: list[LandmarkHand]) -> list[tuple[str, LandmarkHand]]:
    """(side, hand) for at most one right and one left hand.

    The most confident handedness label wins its side; a second hand given the same label is
    the other hand (MediaPipe found two distinct hands), so it takes the other side.
    """
    assigned: list[tuple[str, LandmarkHand]] = []
    for hand in sorted(hands, key=lambda h: -h.side_score)[:2]:
        taken = {side for side, _ in assigned}
        assigned.append((hand.side if hand.side not in taken else
                         SIDES[1 - SIDES.index(hand.side)], hand))
    return assigned


def _scene_depth_source(right: HandEstimate, left: HandEstimate) -> DepthSource:
    """DEPTH_IMAGE if any hand was measured, PNP if any was solved, else NONE."""
    sources = {hand.depth_source for hand in (right, left) if hand.detected}
    for source in (DepthSource.DEPTH_IMAGE, DepthSource.PNP):
        if source in sources:
            return source
    return DepthSource.NONE


def _missing_hand(side: str) -> HandEstimate:
    return HandEstimate(side=side, presence=0.0, detected=False)


def _pixel_roi(roi: Box | None, width: int, height: int) -> Box:
    """roi clipped to the image in whole pixels (None: the whole image)."""
    if roi is None:
        return Box(0.0, 0.0, float(width), float(height))
    clipped = clip_box(roi, width, height)
    if clipped is None:
        raise ValueError(f'roi {roi} does not overlap the {width}x{height} image')
    x0, y0 = math.floor(clipped.x), math.floor(clipped.y)
    x1, y1 = math.ceil(clipped.x + clipped.w), math.ceil(clipped.y + clipped.h)
    return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
