"""InterHand2.6M reader and sample pipeline on the synthetic dataset (official file layout)."""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training.augment import Augmentation
from training.dataset import (
    HAND_TYPES,
    LEFT_ROOT,
    RIGHT_ROOT,
    DatasetError,
    DatasetOptions,
    image_dir,
    load_index,
)
from training.samples import (
    InterHandSamples,
    SampleError,
    augmented_crop,
    hand_type_vector,
    read_rgb,
)
from training.synthetic import write_dataset
from training.targets import sample_targets

# Drawn joints are bright discs (channel sum > 500); bones < 400; background < 100.
BRIGHT = 450


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp('interhand'), frames=6, cameras=2, seed=3,
                         splits=('train',))


def _brightness(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Max channel sum in the 3 x 3 pixels around each point."""
    total = image.sum(axis=2)
    out = []
    for x, y in np.round(xy).astype(int):
        out.append(total[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max())
    return np.array(out)


def test_world_joints_project_onto_the_drawn_joints(data_root):
    options = DatasetOptions('train')
    index = load_index(data_root, options)
    assert len(index) == 12
    for row in range(len(index)):
        image = read_rgb(image_dir(data_root, options) / index.path(row))
        valid = index.joint_valid[row] > 0
        bright = _brightness(image, index.joint_img[row][valid])
        assert (bright > BRIGHT).mean() >= 0.9, f'row {row}: joints miss the drawn discs'


def test_augmented_crops_keep_joints_on_the_drawn_joints(data_root):
    options = DatasetOptions('train')
    index = load_index(data_root, options)
    samples = InterHandSamples(index, image_dir(data_root, options), augment=True, seed=7)
    flips = rotations = 0
    for epoch in range(2):
        samples.set_epoch(epoch)
        for row in range(len(index)):
            aug = samples.augmentation(row)
            flips += aug.flip
            rotations += aug.rotation_deg != 0
            crop = augmented_crop(read_rgb(samples.image_root / index.path(row)),
                                  index.bbox[row], index.joint_img[row],
                                  index.joint_cam[row, :, 2], index.joint_valid[row],
                                  hand_type_vector(int(index.hand_type[row])), aug)
            valid = crop['joint_valid'] > 0
            bright = _brightness(crop['image'], crop['joints'][valid, :2])
            assert (bright > BRIGHT * 0.8).mean() >= 0.85
    assert flips > 0 and rotations > 0


def test_augmentation_is_deterministic_under_a_seed(data_root):
    options = DatasetOptions('train')
    index = load_index(data_root, options)
    a = InterHandSamples(index, image_dir(data_root, options), augment=True, seed=1)
    b = InterHandSamples(index, image_dir(data_root, options), augment=True, seed=1)
    assert np.array_equal(a[5]['image'], b[5]['image'])
    b.set_epoch(1)
    assert a.augmentation(5) != b.augmentation(5)


def test_flip_mirrors_and_swaps_hands_joints_validity_and_type(data_root):
    options = DatasetOptions('train', hand_set='interacting')
    index = load_index(data_root, options)
    row = 0
    image = read_rgb(image_dir(data_root, options) / index.path(row))
    args = (image, index.bbox[row], index.joint_img[row], index.joint_cam[row, :, 2],
            index.joint_valid[row].copy(), np.array([1.0, 1.0], np.float32))
    args[4][3] = 0.0  # a right-hand joint marked invalid must become the left one
    plain = augmented_crop(*args, Augmentation())
    flipped = augmented_crop(*args, Augmentation(flip=True))
    right, left = slice(0, 21), slice(21, 42)
    for new, old in ((right, left), (left, right)):
        assert np.allclose(flipped['joints'][new, 0], 256.0 - plain['joints'][old, 0], atol=1e-3)
        assert np.allclose(flipped['joints'][new, 1:], plain['joints'][old, 1:], atol=1e-3)
        assert np.array_equal(flipped['joint_valid'][new], plain['joint_valid'][old])
    assert flipped['joint_valid'][21 + 3] == 0.0 and flipped['joint_valid'][3] == 1.0
    samples = InterHandSamples(index, image_dir(data_root, options), augment=False)
    # the relative root depth target flips sign around the middle bin (64 - r)
    target = samples[row]
    swapped = sample_targets(flipped['joints'], flipped['joint_valid'], flipped['hand_type'])
    assert swapped.rel_root_depth == pytest.approx(64.0 - float(target['rel_root_depth']),
                                                   abs=1e-3)


def test_invalid_joints_are_masked(data_root):
    options = DatasetOptions('train')
    index = load_index(data_root, options)
    samples = InterHandSamples(index, image_dir(data_root, options), augment=False)
    for row in range(len(index)):
        sample = samples[row]
        masked = index.joint_valid[row] == 0
        assert np.all(sample['joint_valid'].numpy()[masked] == 0)
        kind = HAND_TYPES[index.hand_type[row]]
        if kind == 'right':
            assert sample['joint_valid'][21:].sum() == 0 and sample['root_valid'] == 0
        if kind == 'left':
            assert sample['joint_valid'][:21].sum() == 0
    # joints pushed out of the crop by a large shift lose validity, the others keep it
    row = int(np.flatnonzero(index.hand_type == HAND_TYPES.index('interacting'))[0])
    image = read_rgb(image_dir(data_root, options) / index.path(row))
    crop = augmented_crop(image, index.bbox[row], index.joint_img[row],
                          index.joint_cam[row, :, 2], index.joint_valid[row],
                          np.array([1.0, 1.0], np.float32), Augmentation(shift=(0.45, 0.0)))
    outside = (crop['joints'][:, 0] < 0) | (crop['joints'][:, 0] >= 256)
    assert outside.any() and not outside.all()
    assert np.all(crop['joint_valid'][outside] == 0)
    assert np.array_equal(crop['joint_valid'][~outside] > 0, index.joint_valid[row][~outside] > 0)


def test_root_invalid_invalidates_the_whole_hand(tmp_path):
    root = write_dataset(tmp_path, frames=1, cameras=1, splits=('train',))
    path = root / 'annotations' / 'train' / 'InterHand2.6M_train_data.json'
    data = json.loads(path.read_text())
    data['annotations'][0]['joint_valid'][LEFT_ROOT] = [0]
    path.write_text(json.dumps(data))
    index = load_index(root, DatasetOptions('train'))
    assert index.joint_valid[0, 21:].sum() == 0 and index.joint_valid[0, :21].sum() > 0
    assert index.joint_valid[0, RIGHT_ROOT] == 1


def test_index_cache_round_trips_and_hand_sets_filter(data_root, tmp_path):
    options = DatasetOptions('train')
    fresh = load_index(data_root, options, cache_dir=tmp_path)
    assert len(list(tmp_path.glob('*.npz'))) == 1
    cached = load_index(data_root, options, cache_dir=tmp_path)
    assert np.array_equal(fresh.joint_cam, cached.joint_cam)
    assert list(fresh.image_path) == list(cached.image_path)
    single = load_index(data_root, replace(options, hand_set='single'), cache_dir=tmp_path)
    inter = load_index(data_root, replace(options, hand_set='interacting'), cache_dir=tmp_path)
    assert len(single) + len(inter) == len(fresh)
    assert np.all(inter.hand_type == HAND_TYPES.index('interacting'))
    # single-hand rows come first, as in the official datalist
    assert np.all(np.diff(fresh.hand_type == HAND_TYPES.index('interacting')) >= 0)


def test_bad_options_and_missing_files_raise_clear_errors(data_root, tmp_path):
    with pytest.raises(DatasetError, match='split'):
        DatasetOptions('training')
    with pytest.raises(DatasetError, match='fps'):
        DatasetOptions('train', fps=25)
    with pytest.raises(DatasetError, match='InterHand2.6M_test_data.json'):
        load_index(data_root, DatasetOptions('test'))
    with pytest.raises(DatasetError, match='human_annot'):
        load_index(data_root, DatasetOptions('train', annot_subset='H'))
    with pytest.raises(DatasetError, match='no images/train'):
        image_dir(tmp_path, DatasetOptions('train'))


def test_an_unreadable_image_is_reported_and_replaced_by_the_next_sample(tmp_path):
    root = write_dataset(tmp_path, frames=2, cameras=1, splits=('train',))
    options = DatasetOptions('train')
    index = load_index(root, options)
    samples = InterHandSamples(index, image_dir(root, options), augment=False)
    (image_dir(root, options) / index.path(0)).write_bytes(b'not a jpeg')
    with pytest.warns(UserWarning, match='cannot read image'):
        sample = samples[0]
    assert int(sample['row']) == 1
    (image_dir(root, options) / index.path(1)).unlink()
    with pytest.raises(SampleError, match='no readable image'), pytest.warns(UserWarning):
        samples[0]
