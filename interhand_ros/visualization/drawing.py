"""Debug image: the input with both 2D skeletons, the roi box and handedness labels.

Colours match the RViz markers (markers.HAND_COLOURS) so the two views read the same.
"""
from __future__ import annotations

import cv2
import numpy as np

from interhand_ros.estimate import HandEstimate, TwoHandEstimate
from interhand_ros.skeleton import BONES, WRIST
from interhand_ros.visualization.markers import HAND_COLOURS

_ROI_COLOUR = (255, 255, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _rgb255(side: str) -> tuple[int, int, int]:
    r, g, b, _ = HAND_COLOURS[side]
    return (int(r * 255), int(g * 255), int(b * 255))


def _draw_hand(canvas: np.ndarray, hand: HandEstimate, thickness: int) -> None:
    valid = np.asarray(hand.valid, dtype=bool) & np.isfinite(hand.pixels).all(axis=1)
    pixels = np.round(np.where(valid[:, None], hand.pixels, 0.0)).astype(np.int32)
    colour = _rgb255(hand.side)
    for parent, child in BONES:
        if valid[parent] and valid[child]:
            cv2.line(canvas, tuple(pixels[parent]), tuple(pixels[child]), colour, thickness,
                     cv2.LINE_AA)
    for joint in np.flatnonzero(valid):
        cv2.circle(canvas, tuple(pixels[joint]), thickness + 1, colour, -1, cv2.LINE_AA)
    if valid[WRIST]:
        label = f'{hand.side[0].upper()} {hand.presence:.2f}'
        x, y = pixels[WRIST]
        cv2.putText(canvas, label, (int(x) + 4, int(y) + 14), _FONT, 0.4 * thickness + 0.1,
                    colour, thickness, cv2.LINE_AA)


def draw_estimate(image_rgb: np.ndarray, estimate: TwoHandEstimate) -> np.ndarray:
    """Return a copy of image_rgb with the roi box, skeletons and 'R'/'L' + presence drawn."""
    canvas = image_rgb.copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    box = estimate.roi
    cv2.rectangle(canvas, (int(round(box.x)), int(round(box.y))),
                  (int(round(box.x + box.w)), int(round(box.y + box.h))), _ROI_COLOUR, thickness)
    status = '  '.join(f'{hand.side}: {"yes" if hand.detected else "no"} ({hand.presence:.2f})'
                       for hand in estimate.hands())
    cv2.putText(canvas, status, (4, 14), _FONT, 0.4, _ROI_COLOUR, 1, cv2.LINE_AA)
    for hand in estimate.hands():
        if hand.detected:
            _draw_hand(canvas, hand, thickness)
    return canvas
