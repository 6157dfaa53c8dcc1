"""Training augmentation as the official `get_aug_config` (reference §4.3), seedable.

Every sample draws its parameters from its own generator (seed, epoch, index), so a run is
reproducible regardless of DataLoader workers and a resumed run sees the same augmentations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interhand_ros.skeleton import LEFT_SLICE, RIGHT_SLICE

TRANSLATION_FACTOR = 0.15
SCALE_FACTOR = 0.25
ROTATION_FACTOR_DEG = 45.0
ROTATION_PROBABILITY = 0.6
FLIP_PROBABILITY = 0.5
COLOUR_FACTOR = 0.2


@dataclass(frozen=True)
class Augmentation:
    """Parameters of one sample's augmentation; the default is the identity (test time)."""

    shift: tuple[float, float] = (0.0, 0.0)     # fraction of the box size
    scale: float = 1.0                          # > 1: larger source window
    rotation_deg: float = 0.0
    flip: bool = False
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per RGB channel


def sample_augmentation(rng: np.random.Generator) -> Augmentation:
    """Draw parameters with the official distributions."""
    shift = rng.uniform(-TRANSLATION_FACTOR, TRANSLATION_FACTOR, 2)
    scale = float(np.clip(rng.standard_normal(), -1.0, 1.0) * SCALE_FACTOR + 1.0)
    rotation = float(np.clip(rng.standard_normal(), -2.0, 2.0) * ROTATION_FACTOR_DEG) \
        if rng.random() <= ROTATION_PROBABILITY else 0.0
    flip = bool(rng.random() <= FLIP_PROBABILITY)
    colour = rng.uniform(1.0 - COLOUR_FACTOR, 1.0 + COLOUR_FACTOR, 3)
    return Augmentation((float(shift[0]), float(shift[1])), scale, rotation, flip,
                        (float(colour[0]), float(colour[1]), float(colour[2])))


def sample_generator(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one sample's augmentation in one epoch."""
    return np.random.default_rng([seed, epoch, index])


def flip_hands(joint_xy: np.ndarray, joint_valid: np.ndarray, hand_type: np.ndarray,
               image_width: int, *per_joint: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mirror joints (x -> W - x - 1) and swap right/left everything that is per hand.

    Returns (joint_xy, joint_valid, hand_type, *per_joint) as new arrays.
    """
    def swap(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values[LEFT_SLICE], values[RIGHT_SLICE]], axis=0)

    mirrored = joint_xy.copy()
    mirrored[:, 0] = image_width - mirrored[:, 0] - 1
    return (swap(mirrored), swap(joint_valid), hand_type[::-1].copy(),
            *(swap(values) for values in per_joint))


def apply_colour(image: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    """Scale each RGB channel of a float image in 0..255 and clip back to 0..255."""
    return np.clip(image * np.asarray(colour, np.float32), 0.0, 255.0)
