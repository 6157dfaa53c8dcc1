"""InterHand2.6M v1.0 reader: a compact, cached per-annotation index and a torch Dataset.

Layout (official): `images/<split>/Capture*/<seq>/cam<id>/image<frame>.jpg` and
`annotations/<split>/InterHand2.6M_<split>_{data,camera,joint_3d}.json`. The v0.0 layout
(`annotations/{all,human_annot,machine_annot}/InterHand2.6M_<split>_*.json`) selects the H / M
annotation subsets. The big jsons are parsed one at a time into numpy arrays and dropped, and
the arrays are cached as one .npz next to nothing the user owns (in `cache_dir`).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from interhand_ros.skeleton import MODEL_ROOT_INDEX, NUM_JOINTS, NUM_MODEL_JOINTS
from training.geometry import camera_to_pixel, world_to_camera

HAND_TYPES = ('right', 'left', 'interacting')
HAND_SETS = ('all', 'single', 'interacting')
ANNOT_SUBSETS = {'H+M': 'all', 'H': 'human_annot', 'M': 'machine_annot'}
FPS_CHOICES = (5, 30)
RIGHT_ROOT, LEFT_ROOT = MODEL_ROOT_INDEX['right'], MODEL_ROOT_INDEX['left']
_CACHE_VERSION = 2
_CHUNK_ROWS = 65536


class DatasetError(ValueError):
    """The dataset folder or its annotations are not what InterHand2.6M looks like."""


@dataclass(frozen=True)
class DatasetOptions:
    """Which part of InterHand2.6M to read."""

    split: str = 'train'           # train | val | test
    annot_subset: str = 'H+M'      # H | M | H+M
    hand_set: str = 'all'          # all | single | interacting
    fps: int = 5                   # 5 | 30: which image release under the data root

    def __post_init__(self) -> None:
        if self.split not in ('train', 'val', 'test'):
            raise DatasetError(f"split must be train, val or test, got {self.split!r}")
        if self.annot_subset not in ANNOT_SUBSETS:
            raise DatasetError(f'annot_subset must be one of {sorted(ANNOT_SUBSETS)}, '
                               f'got {self.annot_subset!r}')
        if self.hand_set not in HAND_SETS:
            raise DatasetError(f'hand_set must be one of {HAND_SETS}, got {self.hand_set!r}')
        if self.fps not in FPS_CHOICES:
            raise DatasetError(f'fps must be 5 or 30, got {self.fps!r}')


@dataclass
class InterHandIndex:
    """One row per annotation (image), single-hand rows first as in the official datalist.

    Units: joint_cam in camera mm, joint_img in original-image pixels, bbox [x, y, w, h] px
    (as annotated, not yet squared).
    """

    image_path: np.ndarray       # (N,) UTF-8 bytes (4x smaller than str), see `path`
    annot_id: np.ndarray         # (N,) int64
    capture: np.ndarray          # (N,) int32
    camera: np.ndarray           # (N,) int64
    frame: np.ndarray            # (N,) int64
    image_size: np.ndarray       # (N, 2) int32 (width, height)
    bbox: np.ndarray             # (N, 4) float32
    joint_cam: np.ndarray        # (N, 42, 3) float32
    joint_img: np.ndarray        # (N, 42, 2) float32
    joint_valid: np.ndarray      # (N, 42) float32 (annotation x own-hand root validity)
    hand_type: np.ndarray        # (N,) int8 index into HAND_TYPES
    hand_type_valid: np.ndarray  # (N,) float32
    focal: np.ndarray            # (N, 2) float32
    princpt: np.ndarray          # (N, 2) float32

    def __len__(self) -> int:
        return len(self.annot_id)

    def path(self, row: int) -> str:
        """Image file of a row, relative to the images/<split> folder."""
        return self.image_path[row].decode()

    def select(self, rows: np.ndarray) -> InterHandIndex:
        return InterHandIndex(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def save(self, path: Path) -> None:
        tmp = path.with_name(f'.{path.stem}.{os.getpid()}.tmp.npz')  # unique per writer
        try:
            np.savez(tmp, **{f.name: getattr(self, f.name) for f in fields(self)})
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> InterHandIndex:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})


def annotation_dir(data_root: Path, options: DatasetOptions) -> Path:
    """The folder holding the three jsons of this split / subset (v1.0 or v0.0 layout)."""
    annotations = data_root / 'annotations'
    subset = ANNOT_SUBSETS[options.annot_subset]
    candidates = ([annotations / options.split] if subset == 'all' else []) + \
        [annotations / subset]
    for folder in candidates:
        if (folder / f'InterHand2.6M_{options.split}_data.json').is_file():
            return folder
    raise DatasetError(
        f'no InterHand2.6M_{options.split}_data.json in {" or ".join(map(str, candidates))}; '
        'H and M subsets need the v0.0 annotations/{human_annot,machine_annot}/ folders')


def image_dir(data_root: Path, options: DatasetOptions) -> Path:
    """`<root>/images/<split>`, or the release folder `<root>/InterHand2.6M_<fps>fps_batch1/`."""
    for base in (data_root, data_root / f'InterHand2.6M_{options.fps}fps_batch1'):
        if (base / 'images' / options.split).is_dir():
            return base / 'images' / options.split
    raise DatasetError(f'no images/{options.split} folder under {data_root}')


def _load_json(path: Path) -> dict:
    try:
        with open(path, 'rb') as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f'cannot read {path}: {error}') from error


def _parse_data_json(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per-annotation arrays from the COCO-style data json (the json is dropped on return)."""
    data = _load_json(path)
    images = {image['id']: image for image in data.get('images', [])}
    annotations = data.get('annotations', [])
    count = len(annotations)
    rows: dict[str, np.ndarray] = {
            'annot_id': np.empty(count, np.int64), 'capture': np.empty(count, np.int32),
            'camera': np.empty(count, np.int64), 'frame': np.empty(count, np.int64),
            'image_size': np.empty((count, 2), np.int32), 'bbox': np.empty((count, 4), np.float32),
            'joint_valid': np.empty((count, NUM_MODEL_JOINTS), np.float32),
            'hand_type': np.empty(count, np.int8),
            'hand_type_valid': np.empty(count, np.float32)}
    paths = []
    for row, ann in enumerate(annotations):
        try:
            image = images[ann['image_id']]
            rows['annot_id'][row] = ann['id']
            rows['capture'][row] = int(image['capture'])
            rows['camera'][row] = int(image['camera'])
            rows['frame'][row] = int(image['frame_idx'])
            rows['image_size'][row] = (image['width'], image['height'])
            rows['bbox'][row] = ann['bbox']
            rows['joint_valid'][row] = np.asarray(ann['joint_valid'], np.float32).reshape(-1)
            rows['hand_type'][row] = HAND_TYPES.index(ann['hand_type'])
            rows['hand_type_valid'][row] = float(ann['hand_type_valid'])
            paths.append(image['file_name'])
        except (KeyError, ValueError, TypeError) as error:
            raise DatasetError(f'{path}: malformed annotation {ann.get("id")}: {error!r}') \
                from error
    return rows, paths


def _camera_arrays(path: Path, capture: np.ndarray, camera: np.ndarray) -> dict[str, np.ndarray]:
    cameras = _load_json(path)
    count = len(capture)
    out: dict[str, np.ndarray] = {
        'camrot': np.empty((count, 3, 3)), 'campos': np.empty((count, 3)),
        'focal': np.empty((count, 2), np.float32), 'princpt': np.empty((count, 2), np.float32)}
    for row in range(count):
        try:
            params = cameras[str(capture[row])]
            name = str(camera[row])
            for key in out:
                out[key][row] = params[key][name]
        except KeyError as error:
            raise DatasetError(f'{path}: no camera {camera[row]} in capture {capture[row]}') \
                from error
    return out


def _world_joints(path: Path, capture: np.ndarray, frame: np.ndarray) -> np.ndarray:
    joints = _load_json(path)
    world = np.empty((len(capture), NUM_MODEL_JOINTS, 3), np.float32)
    for row in range(len(capture)):
        try:
            world[row] = joints[str(capture[row])][str(frame[row])]['world_coord']
        except KeyError as error:
            raise DatasetError(f'{path}: no joints for capture {capture[row]} '
                               f'frame {frame[row]}') from error
    return world


def build_index(folder: Path, split: str) -> InterHandIndex:
    """Parse the three jsons of a split into an index (world -> camera -> pixel as official)."""
    rows, paths = _parse_data_json(folder / f'InterHand2.6M_{split}_data.json')
    cams = _camera_arrays(folder / f'InterHand2.6M_{split}_camera.json',
                          rows['capture'], rows['camera'])
    world = _world_joints(folder / f'InterHand2.6M_{split}_joint_3d.json',
                          rows['capture'], rows['frame'])
    joint_cam = np.empty_like(world)
    joint_img = np.empty(world.shape[:2] + (2,), np.float32)
    for start in range(0, len(world), _CHUNK_ROWS):  # float64 maths without a full copy
        rows_slice = slice(start, start + _CHUNK_ROWS)
        cam = world_to_camera(world[rows_slice].astype(np.float64), cams['camrot'][rows_slice],
                              cams['campos'][rows_slice, None])
        joint_cam[rows_slice] = cam
        joint_img[rows_slice] = camera_to_pixel(cam, cams['focal'][rows_slice, None],
                                                cams['princpt'][rows_slice, None])
    del world
    valid = rows.pop('joint_valid')
    valid[:, :NUM_JOINTS] *= valid[:, RIGHT_ROOT:RIGHT_ROOT + 1]
    valid[:, NUM_JOINTS:] *= valid[:, LEFT_ROOT:LEFT_ROOT + 1]
    order = np.argsort(rows['hand_type'] == HAND_TYPES.index('interacting'), kind='stable')
    index = InterHandIndex(image_path=np.array([p.encode() for p in paths]),
                           joint_valid=valid, joint_cam=joint_cam, joint_img=joint_img,
                           focal=cams['focal'], princpt=cams['princpt'], **rows)
    return index.select(order)


def _cache_key(folder: Path, split: str) -> str:
    """Changes when any of the three jsons changes (path, size, mtime)."""
    digest = hashlib.sha1(f'v{_CACHE_VERSION}'.encode())
    for kind in ('data', 'camera', 'joint_3d'):
        path = (folder / f'InterHand2.6M_{split}_{kind}.json').resolve()
        stat = path.stat()
        digest.update(f'{path}:{stat.st_size}:{stat.st_mtime_ns}'.encode())
    return digest.hexdigest()[:16]


def load_index(data_root: Path, options: DatasetOptions,
               cache_dir: Path | None = None) -> InterHandIndex:
    """The index of one split / subset / hand set; parsed once, then read from the cache."""
    data_root = Path(data_root)
    folder = annotation_dir(data_root, options)
    index: InterHandIndex | None = None
    cache_path = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = _cache_key(folder, options.split)
        cache_path = cache_dir / f'interhand_{options.split}_{key}.npz'
        if cache_path.is_file():
            index = InterHandIndex.load(cache_path)
    if index is None:
        index = build_index(folder, options.split)
        if cache_path is not None:
            index.save(cache_path)
    interacting = index.hand_type == HAND_TYPES.index('interacting')
    if options.hand_set == 'single':
        index = index.select(np.flatnonzero(~interacting))
    elif options.hand_set == 'interacting':
        index = index.select(np.flatnonzero(interacting))
    if len(index) == 0:
        raise DatasetError(f'no {options.hand_set} annotations in {folder}')
    return index
