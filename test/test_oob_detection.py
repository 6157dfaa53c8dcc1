"""Hand detector (MediaPipe) on the shared real photos, and the box helpers on synthetic boxes."""
from pathlib import Path

import numpy as np
import pytest

from interhand_ros.estimate import check_rgb_image
from interhand_ros.geometry.box import Box, box_around_points, box_iou, union_box
from interhand_ros.geometry.crop import square_and_enlarge

DATA = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data'
SINGLE_HAND_PHOTOS = sorted((DATA / 'hands').glob('*.jpg'))
TWO_HAND_PHOTO = DATA / 'interhand_demo' / 'input.jpg'
OFFICIAL_DEMO_CROP = Box(48.375, 110.375, 206.25, 206.25)  # demo README, after squaring x1.25


def _read_rgb(path: Path) -> np.ndarray:
    cv2 = pytest.importorskip('cv2')
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


def test_union_box_holds_every_box():
    boxes = [Box(10, 20, 30, 40), Box(-5, 50, 10, 5), Box(25, 0, 100, 10)]
    union = union_box(boxes)
    assert union == Box(-5, 0, 130, 60)
    assert union_box([boxes[0]]) == boxes[0]


@pytest.mark.parametrize('bad', [[], [Box(0, 0, -1, 5)], [Box(0, float('nan'), 1, 1)]])
def test_union_box_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        union_box(bad)


def test_box_around_points_scales_about_centre_and_ignores_nan():
    points = np.array([[10.0, 20.0], [30.0, 60.0], [np.nan, 0.0]])
    assert box_around_points(points) == Box(10, 20, 20, 40)
    assert box_around_points(points, 1.5) == Box(5, 10, 30, 60)
    with pytest.raises(ValueError):
        box_around_points(np.full((3, 2), np.nan))


def test_box_iou():
    assert box_iou(Box(0, 0, 10, 10), Box(0, 0, 10, 10)) == 1.0
    assert box_iou(Box(0, 0, 10, 10), Box(20, 20, 5, 5)) == 0.0
    assert box_iou(Box(0, 0, 10, 10), Box(5, 0, 10, 10)) == pytest.approx(50 / 150)


@pytest.mark.parametrize('bad', [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((0, 4, 3), np.uint8), 'image'])
def test_check_image_rejects_bad_frames(bad):
    with pytest.raises(ValueError):
        check_rgb_image(bad)


@pytest.fixture(scope='module')
def detector():
    pytest.importorskip('mediapipe', reason='mediapipe (bundled hand models) not installed')
    from interhand_ros.landmarks.detection import HandDetector
    hand_detector = HandDetector(max_hands=2, min_confidence=0.5)
    yield hand_detector
    hand_detector.close()


@pytest.mark.skipif(not SINGLE_HAND_PHOTOS, reason=f'no shared hand photos under {DATA}')
@pytest.mark.parametrize('path', SINGLE_HAND_PHOTOS, ids=lambda p: p.name)
def test_detector_finds_the_hand_in_each_single_hand_photo(detector, path):
    image = _read_rgb(path)
    boxes = detector.detect(image)
    assert len(boxes) == 1
    box = boxes[0]
    height, width = image.shape[:2]
    # The hand fills most of these photos: its box must cover a large part of the frame.
    assert box.w * box.h > 0.25 * width * height
    centre_x, centre_y = box.center
    assert 0 < centre_x < width and 0 < centre_y < height


@pytest.mark.skipif(not TWO_HAND_PHOTO.exists(), reason=f'{TWO_HAND_PHOTO} not present')
def test_detector_crop_overlaps_the_official_two_hand_box(detector):
    boxes = detector.detect(_read_rgb(TWO_HAND_PHOTO))
    assert boxes, 'no hand found on the two-hand demo photo'
    crop = square_and_enlarge(union_box(boxes))  # what the engine gives InterNet
    assert box_iou(crop, OFFICIAL_DEMO_CROP) > 0.7  # measured 0.81


def test_detector_returns_nothing_on_a_blank_frame(detector):
    assert detector.detect(np.full((240, 320, 3), 200, np.uint8)) == []


def test_detector_rejects_a_bad_frame(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10), np.uint8))


def test_missing_mediapipe_is_a_clear_error(monkeypatch):
    import sys

    from interhand_ros.landmarks.detection import HandDetector, MediaPipeMissingError
    monkeypatch.setitem(sys.modules, 'mediapipe.python.solutions', None)  # as if not installed
    with pytest.raises(MediaPipeMissingError, match='mediapipe==0.10.21'):
        HandDetector()
