"""Write a small synthetic InterHand2.6M v1.0 dataset: same file layout, same json schemas.

Each frame poses one or two articulated hands (known 3D joints in world mm), views them from a
few calibrated cameras and draws the projected skeletons (bones, then joints as bright discs)
on a dark background. Tests and the smoke run train and evaluate on it exactly as on the real
dataset. Usage: `python -m training.synthetic --out DIR [--frames N --cameras K --seed S]`.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from interhand_ros.skeleton import NUM_JOINTS, NUM_MODEL_JOINTS, SIDES
from training.geometry import camera_to_pixel, world_to_camera

IMAGE_WIDTH, IMAGE_HEIGHT = 334, 512
FOCAL_PX = 1250.0
CAMERA_DISTANCE_MM = 1000.0
SPLITS = ('train', 'val', 'test')
FIRST_CAMERA_ID = 400262
# Per hand (right, left): bone colour and joint colour, RGB.
BONE_RGB = ((200, 70, 50), (50, 110, 210))
JOINT_RGB = ((255, 230, 120), (150, 240, 255))
JOINT_RADIUS_PX = 4
# Finger base (MCP / thumb CMC) positions in the right hand's frame (mm): x across the palm
# (thumb side negative), y from the wrist to the fingers, z out of the palm's back.
_FINGER_BASES = np.array([[-25.0, 25.0, -5.0], [-22.0, 85.0, 0.0], [-3.0, 90.0, 0.0],
                          [15.0, 85.0, 0.0], [30.0, 75.0, 0.0]])
_SEGMENT_MM = np.array([[35.0, 30.0, 25.0], [40.0, 25.0, 20.0], [45.0, 28.0, 22.0],
                        [42.0, 26.0, 20.0], [33.0, 20.0, 18.0]])
_SPLAY_RAD = np.array([-0.7, -0.15, 0.0, 0.12, 0.3])


@dataclass(frozen=True)
class SyntheticCamera:
    """One camera in the dataset's convention: world -> camera rotation and centre (mm)."""

    name: str
    camrot: np.ndarray
    campos: np.ndarray
    focal: np.ndarray
    princpt: np.ndarray


def hand_joints(rng: np.random.Generator, side: str) -> np.ndarray:
    """(21, 3) joints of one hand in its own frame (mm), InterHand order: per finger tip..base,
    thumb to pinky, wrist last. Random flexion; the left hand mirrors the right."""
    joints = np.zeros((NUM_JOINTS, 3))
    for finger in range(5):
        direction = np.array([np.sin(_SPLAY_RAD[finger]), np.cos(_SPLAY_RAD[finger]), 0.0])
        point = _FINGER_BASES[finger].copy()
        joints[4 * finger + 3] = point
        bend = 0.0
        for level in range(3):
            bend += rng.uniform(0.0, 0.6)
            step = direction * np.cos(bend) + np.array([0.0, 0.0, -np.sin(bend)])
            point = point + _SEGMENT_MM[finger, level] * step
            joints[4 * finger + 2 - level] = point
    if side == 'left':
        joints[:, 0] *= -1.0
    return joints


def _rotation(rng: np.random.Generator, max_rad: float) -> np.ndarray:
    """A random rotation matrix with angles up to max_rad about each axis."""
    ax, ay, az = rng.uniform(-max_rad, max_rad, 3)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def frame_world_joints(rng: np.random.Generator, hand_type: str) -> np.ndarray:
    """(42, 3) world joints (mm): hands around the world origin, fingers up (world +y)."""
    world = np.zeros((NUM_MODEL_JOINTS, 3))
    offsets = {'right': np.array([-55.0, -40.0, 0.0]), 'left': np.array([55.0, -40.0, 0.0])}
    sides = SIDES if hand_type == 'interacting' else (hand_type,)
    for side in sides:
        centre = offsets[side] if hand_type == 'interacting' else np.array([0.0, -40.0, 0.0])
        local = hand_joints(rng, side) @ _rotation(rng, 0.35).T
        start = 0 if side == 'right' else NUM_JOINTS
        world[start:start + NUM_JOINTS] = local + centre + rng.uniform(-15.0, 15.0, 3)
    return world


def make_cameras(count: int) -> list[SyntheticCamera]:
    """Cameras on an arc in front of the hands, looking at the origin; world y is up."""
    cameras = []
    for index in range(count):
        angle = np.deg2rad(-25.0 + 50.0 * index / max(count - 1, 1))
        campos = CAMERA_DISTANCE_MM * np.array([np.sin(angle), 0.1, -np.cos(angle)])
        forward = -campos / np.linalg.norm(campos)
        down = np.array([0.0, -1.0, 0.0])
        down = down - forward * (down @ forward)
        down = np.divide(down, np.linalg.norm(down))
        right = np.cross(down, forward)
        cameras.append(SyntheticCamera(
            name=str(FIRST_CAMERA_ID + index), camrot=np.stack([right, down, forward]),
            campos=campos, focal=np.array([FOCAL_PX, FOCAL_PX + 5.0]),
            princpt=np.array([IMAGE_WIDTH / 2 - 11.0, IMAGE_HEIGHT / 2 + 3.0])))
    return cameras


def draw_hands(pixels: np.ndarray, depth: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """RGB image of the projected skeletons; the nearer hand is drawn last."""
    image = np.full((IMAGE_HEIGHT, IMAGE_WIDTH, 3), 18, np.uint8)
    image[:, :, 2] += (np.arange(IMAGE_HEIGHT) * 30 // IMAGE_HEIGHT).astype(np.uint8)[:, None]
    hands = [h for h in (0, 1) if visible[h]]
    hands.sort(key=lambda h: -depth[h * NUM_JOINTS + NUM_JOINTS - 1])
    for hand in hands:
        offset = hand * NUM_JOINTS
        points = np.round(pixels[offset:offset + NUM_JOINTS]).astype(int)
        for finger in range(5):
            chain = [NUM_JOINTS - 1] + [4 * finger + 3 - level for level in range(4)]
            for a, b in zip(chain[:-1], chain[1:]):
                cv2.line(image, tuple(points[a]), tuple(points[b]), BONE_RGB[hand], 3,
                         cv2.LINE_AA)
        for point in points:
            cv2.circle(image, tuple(point), JOINT_RADIUS_PX, JOINT_RGB[hand], -1, cv2.LINE_AA)
    return image


def _bbox(pixels: np.ndarray, valid: np.ndarray) -> list[float]:
    """Tight box over the valid joints plus a margin, like the dataset's hand-region boxes."""
    points = pixels[valid > 0]
    low, high = points.min(axis=0) - 12.0, points.max(axis=0) + 12.0
    return [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])]


def write_split(out: Path, split: str, frames: int, cameras: list[SyntheticCamera],
                rng: np.random.Generator) -> None:
    """Images and the three annotation jsons of one split (capture 0, two sequences)."""
    capture = '0'
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    joint_3d: dict[str, dict[str, Any]] = {capture: {}}
    camera_json = {capture: {
        'campos': {c.name: c.campos.tolist() for c in cameras},
        'camrot': {c.name: c.camrot.tolist() for c in cameras},
        'focal': {c.name: c.focal.tolist() for c in cameras},
        'princpt': {c.name: c.princpt.tolist() for c in cameras}}}
    for frame in range(frames):
        hand_type = ('interacting', 'right', 'left')[frame % 3]
        seq_name = '0000_synthetic_interacting' if hand_type == 'interacting' else \
            '0001_synthetic_single'
        frame_idx = 1000 + 6 * frame
        world = frame_world_joints(rng, hand_type)
        annotated = np.zeros(NUM_MODEL_JOINTS)
        annotated[:NUM_JOINTS] = hand_type in ('right', 'interacting')
        annotated[NUM_JOINTS:] = hand_type in ('left', 'interacting')
        if frame % 2 == 1:  # an unannotated joint, as in the real data
            annotated[np.flatnonzero(annotated)[rng.integers(int(annotated.sum()))]] = 0
        joint_3d[capture][str(frame_idx)] = {
            'world_coord': world.tolist(), 'joint_valid': (annotated > 0).tolist(),
            'hand_type': hand_type, 'hand_type_valid': True}
        for camera in cameras:
            cam = world_to_camera(world, camera.camrot, camera.campos)
            pixels = camera_to_pixel(cam, camera.focal, camera.princpt)
            inside = ((pixels[:, 0] >= 0) & (pixels[:, 0] < IMAGE_WIDTH)
                      & (pixels[:, 1] >= 0) & (pixels[:, 1] < IMAGE_HEIGHT))
            valid = annotated * inside
            file_name = f'Capture{capture}/{seq_name}/cam{camera.name}/image{frame_idx}.jpg'
            path = out / 'images' / split / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            visible = (annotated[:NUM_JOINTS].any(), annotated[NUM_JOINTS:].any())
            image = draw_hands(pixels, cam[:, 2], np.array(visible))
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            image_id = len(images)
            images.append({'id': image_id, 'file_name': file_name, 'width': IMAGE_WIDTH,
                           'height': IMAGE_HEIGHT, 'capture': int(capture),
                           'subject': 0, 'seq_name': seq_name, 'camera': camera.name,
                           'frame_idx': frame_idx})
            hand_type_valid = int(hand_type != 'interacting' or valid.sum() > 30)
            annotations.append({'id': image_id, 'image_id': image_id,
                                'bbox': _bbox(pixels, annotated),
                                'joint_valid': [[int(v)] for v in valid],
                                'hand_type': hand_type, 'hand_type_valid': hand_type_valid})
    folder = out / 'annotations' / split
    folder.mkdir(parents=True, exist_ok=True)
    for kind, content in (('data', {'images': images, 'annotations': annotations,
                                    'categories': [{'id': 1, 'name': 'hand'}]}),
                          ('camera', camera_json), ('joint_3d', joint_3d)):
        (folder / f'InterHand2.6M_{split}_{kind}.json').write_text(json.dumps(content))


def write_dataset(out: Path, frames: int = 6, cameras: int = 2, seed: int = 0,
                  splits: tuple[str, ...] = SPLITS) -> Path:
    """Write the synthetic dataset under `out` and return `out`."""
    if frames < 1 or cameras < 1:
        raise ValueError(f'need at least one frame and one camera, got {frames}, {cameras}')
    rng = np.random.default_rng(seed)
    camera_list = make_cameras(cameras)
    for split in splits:
        write_split(out, split, frames, camera_list, rng)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, required=True, help='dataset root to create')
    parser.add_argument('--frames', type=int, default=6, help='frames per split')
    parser.add_argument('--cameras', type=int, default=2, help='cameras viewing each frame')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    write_dataset(args.out, args.frames, args.cameras, args.seed)
    print(f'synthetic InterHand2.6M written to {args.out}')


if __name__ == '__main__':
    main()
