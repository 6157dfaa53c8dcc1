"""One training / evaluation sample: read, augment, crop to 256 x 256, build targets.

Follows the official pipeline (§4): the annotated box is squared and enlarged x1.25, shifted,
the image (and box centre) mirrored on flip, cropped with scale and rotation, colour-jittered;
joints follow the same transform and lose validity outside the crop.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from interhand_ros.geometry.box import Box
from interhand_ros.geometry.crop import (
    INPUT_SIZE,
    apply_affine,
    crop_image,
    crop_transform,
    square_and_enlarge,
)
from training.augment import (
    Augmentation,
    apply_colour,
    flip_hands,
    sample_augmentation,
    sample_generator,
)
from training.dataset import HAND_TYPES, InterHandIndex
from training.targets import sample_targets

_HAND_TYPE_VECTORS = {'right': (1.0, 0.0), 'left': (0.0, 1.0), 'interacting': (1.0, 1.0)}


class SampleError(RuntimeError):
    """A sample cannot be built (e.g. its image is missing or unreadable)."""


def read_rgb(path: Path) -> np.ndarray:
    """Image file -> float32 RGB in 0..255 (as the official load_img)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise SampleError(f'cannot read image {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32)


def hand_type_vector(hand_type_index: int) -> np.ndarray:
    """[right, left] presence target of a HAND_TYPES index."""
    return np.array(_HAND_TYPE_VECTORS[HAND_TYPES[hand_type_index]], np.float32)


def augmented_crop(image: np.ndarray, bbox: np.ndarray, joint_img: np.ndarray,
                   joint_depth: np.ndarray, joint_valid: np.ndarray, hand_type: np.ndarray,
                   augmentation: Augmentation) -> dict[str, np.ndarray]:
    """Crop + augmentation of one sample. Returns the crop (256, 256, 3) float 0..255, joints
    (42, 3) in crop pixels + camera depth mm, validity, hand type, T and T_inv (2 x 3)."""
    box = square_and_enlarge(Box(*map(float, bbox)))
    box = Box(box.x + box.w * augmentation.shift[0], box.y + box.h * augmentation.shift[1],
              box.w, box.h)
    width = image.shape[1]
    if augmentation.flip:
        image = image[:, ::-1]
        center_x = width - box.center[0] - 1
        box = Box(center_x - box.w / 2.0, box.y, box.w, box.h)
        joint_img, joint_valid, hand_type, joint_depth = flip_hands(
            joint_img, joint_valid, hand_type, width, joint_depth)
    transform, inverse = crop_transform(box, INPUT_SIZE, augmentation.scale,
                                        augmentation.rotation_deg)
    crop = apply_colour(crop_image(np.ascontiguousarray(image), transform), augmentation.colour)
    crop_xy = apply_affine(transform, joint_img)
    inside = ((crop_xy[:, 0] >= 0) & (crop_xy[:, 0] < INPUT_SIZE)
              & (crop_xy[:, 1] >= 0) & (crop_xy[:, 1] < INPUT_SIZE))
    joints = np.concatenate([crop_xy, joint_depth[:, None]], axis=1)
    return {'image': crop, 'joints': joints, 'joint_valid': joint_valid * inside,
            'hand_type': hand_type, 'transform': transform, 'inverse': inverse}


class InterHandSamples(Dataset):
    """torch Dataset over an InterHandIndex; `set_epoch` changes the augmentation draw."""

    def __init__(self, index: InterHandIndex, image_root: Path, augment: bool,
                 seed: int = 0) -> None:
        self.index = index
        self.image_root = Path(image_root)
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def augmentation(self, row: int) -> Augmentation:
        if not self.augment:
            return Augmentation()
        return sample_augmentation(sample_generator(self.seed, self.epoch, row))

    def __getitem__(self, row: int) -> dict[str, torch.Tensor]:
        """The sample of `row`; an unreadable image is reported and replaced by the next
        readable row, so one bad file among millions does not stop a multi-day run."""
        for offset in range(len(self.index)):
            candidate = (row + offset) % len(self.index)
            try:
                image = read_rgb(self.image_root / self.index.path(candidate))
            except SampleError as error:
                warnings.warn(f'{error}; using the next sample instead', stacklevel=2)
                continue
            return self._build(candidate, image)
        raise SampleError(f'no readable image among the {len(self.index)} samples')

    def _build(self, row: int, image: np.ndarray) -> dict[str, torch.Tensor]:
        ix = self.index
        crop = augmented_crop(image, ix.bbox[row], ix.joint_img[row], ix.joint_cam[row, :, 2],
                              ix.joint_valid[row], hand_type_vector(int(ix.hand_type[row])),
                              self.augmentation(row))
        targets = sample_targets(crop['joints'], crop['joint_valid'], crop['hand_type'])
        pixels = torch.from_numpy(np.ascontiguousarray(crop['image'].transpose(2, 0, 1)))
        return {
            'image': pixels / 255.0,
            'joint_coord': torch.from_numpy(targets.joint_coord),
            'joint_valid': torch.from_numpy(targets.joint_valid),
            'rel_root_depth': torch.tensor(targets.rel_root_depth),
            'root_valid': torch.tensor(targets.root_valid),
            'hand_type': torch.from_numpy(crop['hand_type'].astype(np.float32)),
            'hand_type_valid': torch.tensor(ix.hand_type_valid[row]),
            'inverse_transform': torch.from_numpy(crop['inverse'].astype(np.float32)),
            'row': torch.tensor(row),
        }
