"""Where the roi, the image region holding the hands, comes from (parameter `roi.mode`).

InterNet sees one crop made from the roi; how well it works depends mostly on that roi.
- full:     the whole image. For a camera framing just the hands (wrist/head camera, close-up).
- fixed:    a configured box (pixels). For a static camera and a known workspace.
- track:    the previous frame's 2D joints, grown and smoothed; back to the whole image when both
            hands are lost. For hands that start in view and move slowly; no extra model.
- topic:    a box from an external detector (sensor_msgs/RegionOfInterest); the whole image when
            none arrived within `topic_max_age`. For a robot that already runs a hand detector.
- detector: the bundled MediaPipe detector (union of the hand boxes) when the track is lost or
            every `detect_every` frames, tracking the joints in between, so the detector's cost
            stays off most frames. Most robust for hands that enter, leave or sit far away.
The engine squares and enlarges whatever roi it gets (crop.square_and_enlarge); rois here are
only clipped to the image. `None` means "the whole image".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.geometry.box import Box, box_around_points, clip_box, union_box

ROI_MODES = ('full', 'fixed', 'track', 'topic', 'detector')


class BoxDetector(Protocol):
    def detect(self, image_rgb: np.ndarray) -> list[Box]: ...


@dataclass(frozen=True)
class RoiConfig:
    """Parameters `roi.*`; pixels and seconds."""

    mode: str = 'full'
    fixed: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x, y, w, h
    track_scale: float = 1.5       # joint box grown per axis (hands move between frames)
    track_smoothing: float = 0.5   # weight of the newest box, 1 = no smoothing
    topic_max_age: float = 0.5     # s
    detector_min_confidence: float = 0.5
    detect_every: int = 10         # frames; detector mode re-detects at least this often

    def __post_init__(self) -> None:
        if self.mode not in ROI_MODES:
            raise ValueError(f"roi.mode must be one of {', '.join(ROI_MODES)}, got {self.mode!r}")
        if self.mode == 'fixed' and (len(self.fixed) != 4 or self.fixed[2] <= 0
                                     or self.fixed[3] <= 0):
            raise ValueError(f'roi.fixed must be [x, y, w, h] with w, h > 0 px, got '
                             f'{list(self.fixed)}')
        if self.track_scale < 1.0:
            raise ValueError(f'roi.track_scale must be >= 1, got {self.track_scale}')
        if not 0.0 < self.track_smoothing <= 1.0:
            raise ValueError(f'roi.track_smoothing must be in (0, 1], got {self.track_smoothing}')
        if self.detect_every < 1:
            raise ValueError(f'roi.detect_every must be >= 1 frame, got {self.detect_every}')
        if self.topic_max_age <= 0.0:
            raise ValueError(f'roi.topic_max_age must be > 0 s, got {self.topic_max_age}')


def _corners(box: Box) -> np.ndarray:
    return np.array([box.x, box.y, box.x + box.w, box.y + box.h])


def _make_detector(min_confidence: float) -> BoxDetector:
    from interhand_ros.landmarks.detection import HandDetector  # MediaPipe: only for this mode
    return HandDetector(max_hands=2, min_confidence=min_confidence)


class RoiSource:
    """Gives the roi for each frame and learns from each result (track mode)."""

    def __init__(self, config: RoiConfig,
                 detector_factory: Callable[[float], BoxDetector] = _make_detector) -> None:
        self.config = config
        self._tracked: np.ndarray | None = None   # smoothed (x0, y0, x1, y1)
        self._external: Box | None = None
        self._external_time = -np.inf
        self._detector = (detector_factory(config.detector_min_confidence)
                          if config.mode == 'detector' else None)
        self._frames_since_detection = 0

    def roi_for(self, image_rgb: np.ndarray, now: float) -> Box | None:
        """The roi of this image (None: whole image). now: seconds, the clock of set_external."""
        height, width = image_rgb.shape[:2]
        mode = self.config.mode
        if mode == 'fixed':
            box: Box | None = Box(*self.config.fixed)
        elif self._detector is not None and self._detection_due():  # mode 'detector'
            boxes = self._detector.detect(image_rgb)
            box = union_box(boxes) if boxes else None
            self._frames_since_detection = 0
            self._tracked = None if box is None else _corners(box)
        elif mode in ('track', 'detector') and self._tracked is not None:
            self._frames_since_detection += 1
            x0, y0, x1, y1 = self._tracked
            box = Box(x0, y0, x1 - x0, y1 - y0)
        elif mode == 'topic' and now - self._external_time <= self.config.topic_max_age:
            box = self._external
        else:
            box = None
        return None if box is None else clip_box(box, width, height)

    def _detection_due(self) -> bool:
        due_at = self.config.detect_every - 1
        return self._tracked is None or self._frames_since_detection >= due_at

    def set_external(self, box: Box | None, now: float) -> None:
        """Box from the ROI topic (None: the whole image), received at `now` seconds."""
        self._external, self._external_time = box, now

    def update(self, estimate: TwoHandEstimate) -> None:
        """Track and detector modes: follow the detected hands' valid 2D joints; forget if lost."""
        if self.config.mode not in ('track', 'detector'):
            return
        per_hand = [hand.pixels[np.asarray(hand.valid, dtype=bool)]
                    for hand in estimate.hands() if hand.detected]
        points = np.concatenate(per_hand) if per_hand else np.empty((0, 2))
        if not np.isfinite(points).all(axis=1).any():
            self._tracked = None
            return
        corners = _corners(box_around_points(points, self.config.track_scale))
        if self._tracked is None:
            self._tracked = corners
        else:
            alpha = self.config.track_smoothing
            self._tracked = alpha * corners + (1.0 - alpha) * self._tracked

    def reset(self) -> None:
        """Forget the tracked box (time went back); detector mode then detects at once."""
        self._tracked = None

    def close(self) -> None:
        if self._detector is not None and hasattr(self._detector, 'close'):
            self._detector.close()
