"""Bundled hand detector: MediaPipe Hands (palm detector + hand-landmark model, shipped in the
mediapipe 0.10.21 wheel, so it works offline on a robot).

InterNet needs one roi holding the hands; MediaPipe finds each hand and its 21 landmarks. A hand
box is the landmark bounding box grown 1.2x per axis (the official InterHand2.6M rule for a hand
box made from joints, `get_bbox`), because landmarks are joint centres and the skin reaches past
them. The engine squares and enlarges the roi x1.25 itself (crop.square_and_enlarge): not here.

MediaPipe is imported lazily so the core package works without it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from interhand_ros.estimate import check_rgb_image
from interhand_ros.geometry.box import Box, box_around_points
from interhand_ros.skeleton import SIDES

JOINT_BOX_SCALE = 1.2  # official InterHand2.6M get_bbox: joints' box extended 1.2x per axis


class MediaPipeMissingError(ImportError):
    """MediaPipe (the bundled detector / fallback estimator) is not installed."""


@dataclass(frozen=True)
class LandmarkHand:
    """One hand found by MediaPipe, in the input image's pixels.

    side is the subject's hand ('right' / 'left'), already corrected for mirroring.
    side_score is MediaPipe's probability for that label, 0..1.
    pixels (21, 2) and world (21, 3) are in published joint order (MediaPipe's order = ours);
    world is metric (m), origin near the hand's centre, axes roughly aligned with the camera.
    """

    side: str
    side_score: float
    pixels: np.ndarray
    world: np.ndarray

    def box(self, scale: float = JOINT_BOX_SCALE) -> Box:
        """Landmark bounding box grown by `scale` per axis about its centre."""
        return box_around_points(self.pixels, scale)


def _import_mediapipe_hands() -> Any:
    try:
        from mediapipe.python.solutions import hands as mp_hands
    except ImportError as error:
        raise MediaPipeMissingError(
            'mediapipe is not installed: the hand detector and the landmark fallback estimator '
            "need it. Install mediapipe==0.10.21 (the last release bundling its hand models), "
            'e.g. with scripts/setup_venv.sh.') from error
    return mp_hands


class MediaPipeHands:
    """Thin wrapper of mediapipe.solutions.hands returning LandmarkHand in image pixels.

    MediaPipe labels handedness as if the image were mirrored (a selfie view); for a normal
    camera image (mirrored=False) the label is swapped to give the subject's own hand.
    static_image_mode=True treats every call as an unrelated photo (full palm detection);
    False lets MediaPipe track landmarks between consecutive video frames.
    """

    def __init__(self, max_hands: int = 2, min_confidence: float = 0.5,
                 mirrored: bool = False, static_image_mode: bool = True,
                 model_complexity: int = 1) -> None:
        if max_hands < 1:
            raise ValueError(f'max_hands must be >= 1, got {max_hands}')
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f'min_confidence must be in [0, 1], got {min_confidence}')
        if model_complexity not in (0, 1):
            raise ValueError(f'model_complexity must be 0 or 1, got {model_complexity}')
        self.mirrored = mirrored
        self._options = dict(static_image_mode=static_image_mode, max_num_hands=max_hands,
                             model_complexity=model_complexity,
                             min_detection_confidence=min_confidence,
                             min_tracking_confidence=min_confidence)
        self._mp_hands = _import_mediapipe_hands()
        self._hands = self._mp_hands.Hands(**self._options)
        self._image_size: tuple[int, int] | None = None

    def process(self, image_rgb: np.ndarray) -> list[LandmarkHand]:
        """All hands in an RGB uint8 image, most confident handedness first."""
        check_rgb_image(image_rgb)
        height, width = image_rgb.shape[:2]
        if self._image_size not in (None, (width, height)) and \
                not self._options['static_image_mode']:
            # Another image size is another stream: tracked landmarks would not fit it.
            self._hands.close()
            self._hands = self._mp_hands.Hands(**self._options)
        self._image_size = (width, height)
        result = self._hands.process(np.ascontiguousarray(image_rgb))
        found = []
        for landmarks, world, handedness in zip(result.multi_hand_landmarks or (),
                                                result.multi_hand_world_landmarks or (),
                                                result.multi_handedness or ()):
            label = handedness.classification[0]
            normalized = np.array([(p.x, p.y) for p in landmarks.landmark], dtype=np.float64)
            found.append(LandmarkHand(
                side=self._subject_side(label.label),
                side_score=float(label.score),
                pixels=normalized * (width, height),
                world=np.array([(p.x, p.y, p.z) for p in world.landmark], dtype=np.float64)))
        return sorted(found, key=lambda hand: -hand.side_score)

    def _subject_side(self, mediapipe_label: str) -> str:
        side = mediapipe_label.lower()
        if side not in SIDES:
            raise ValueError(f'unexpected MediaPipe handedness label {mediapipe_label!r}')
        return side if self.mirrored else SIDES[1 - SIDES.index(side)]

    def close(self) -> None:
        self._hands.close()


class HandDetector:
    """Finds hand boxes in a full frame (the `detector` ROI mode of the node and the runner).

    Only boxes are needed (grown x1.2 here, then squared and enlarged x1.25 for InterNet's
    crop), so the lite landmark model (model_complexity 0) serves: on handSrc.jpg at 640x480
    it gave the same box within 2 % of its size in 8.2 ms instead of 11.7 ms (2-core Zen 4),
    a cost the roi source pays on every frame while the hands are not tracked.
    """

    def __init__(self, max_hands: int = 2, min_confidence: float = 0.5,
                 box_scale: float = JOINT_BOX_SCALE) -> None:
        if box_scale <= 0.0:
            raise ValueError(f'box_scale must be > 0, got {box_scale}')
        self.box_scale = box_scale
        self._hands = MediaPipeHands(max_hands=max_hands, min_confidence=min_confidence,
                                     model_complexity=0)

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        """Boxes (image pixels) of the hands in an RGB uint8 (H, W, 3) image; [] if none."""
        return [hand.box(self.box_scale) for hand in self._hands.process(image_rgb)]

    def close(self) -> None:
        self._hands.close()


