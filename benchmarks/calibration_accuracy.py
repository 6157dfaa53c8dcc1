"""Accuracy of interhand-calibrate on ChArUco views rendered from known cameras (seeded).

    make bench-calibration ARGS="--seed 0 --json out.json"

Views: a 7x5 board (50 mm squares, 37 mm markers, DICT_5X5_100) traced through real plumb_bob
lenses (1280 x 720, f = 900 px, k1 = -0.12), blurred, unevenly lit, with sensor noise
(tools/charuco_render.py); the cameras on a 70 degree arc about 1 m from the board, the board
hand-held at 0.3 m spread with tilts up to 35 degrees, every seventh pose pushed so far aside
that it leaves some images in part, and every eighth turned 60-75 degrees about its vertical
axis (too oblique for some cameras: not detected, or detected poorly). Corners come from the
package's detector (calibration/detection.py); Gaussian noise is then added to them until the
measured corner error (2D RMS against the truth) reaches the row's level. Everything else is
the command's own path (calibration/solve.calibrate: lenses, initial poses, bundle adjustment).

Rows: the target case (3 cameras, 35 poses, 0.3 px), fewer poses, more noise, a narrow
spread of tilts (up to 8 degrees, no oblique poses), 2 and 4 cameras, tangential distortion
estimated too (--tangential), and the lenses given (camera_info) instead of estimated.
Errors: focal length (fx and fy, worst camera), each camera's pose relative to cam1
(translation and rotation, worst camera): what multi-view fusion depends on.
"""
from __future__ import annotations

import os

# One BLAS thread: on this shared 2-core machine threaded BLAS under oversubscription made one
# bundle adjustment 10-20x slower (50 s instead of 2.5 s); set before numpy loads it.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import argparse  # noqa: E402 - after the environment above
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402

import numpy as np  # noqa: E402

from interhand_ros.calibration.board import BoardSpec  # noqa: E402
from interhand_ros.calibration.detection import BoardDetector, Detection  # noqa: E402
from interhand_ros.calibration.solve import CameraViews, calibrate  # noqa: E402
from tools.charuco_render import (  # noqa: E402
    BoardRenderer,
    RenderCamera,
    make_scene,
    relative_error,
)

SPEC = BoardSpec.parse('7x5', 0.05, 0.037)
TARGETS = {'focal_pct': 0.3, 'translation_mm': 3.0, 'rotation_deg': 0.25}


@dataclass
class Rendered:
    """One rig's views: detections per camera by pose index, and the truth."""

    cameras: list[RenderCamera]
    detections: dict[str, dict[int, Detection]]
    truth: dict[str, dict[int, np.ndarray]]   # true pixels of every corner id, per view
    rendered: int


@dataclass
class Row:
    case: str
    cameras: int
    poses: int
    views: str           # detected / rendered
    corner_px: float     # measured 2D RMS corner error after the added noise
    focal_pct: float
    translation_mm: float
    rotation_deg: float
    median_px: float
    seconds: float


def render(cameras: int, poses: int, tilt_deg: float, seed: int, oblique: float = 0.12
           ) -> Rendered:
    rng = np.random.default_rng(seed)
    rig, board_poses = make_scene(SPEC, rng, cameras=cameras, poses=poses, tilt_deg=tilt_deg,
                                  spread_m=0.15, partial=0.15, oblique=oblique)
    renderer, detector = BoardRenderer(SPEC), BoardDetector(SPEC)
    detections: dict[str, dict[int, Detection]] = {camera.name: {} for camera in rig}
    truth: dict[str, dict[int, np.ndarray]] = {camera.name: {} for camera in rig}
    for index, pose in enumerate(board_poses):
        for camera in rig:
            found = detector.detect(renderer.render(camera, pose, rng))
            if found is not None:
                detections[camera.name][index] = found
                truth[camera.name][index] = renderer.true_corners(camera, pose)
    print(f'rendered {cameras} cameras x {poses} poses', file=sys.stderr, flush=True)
    return Rendered(rig, detections, truth, cameras * poses)


def corner_rms(rendered: Rendered, detections: dict[str, dict[int, Detection]]) -> float:
    errors = np.concatenate([d.corners - rendered.truth[name][i][d.ids]
                             for name, views in detections.items() for i, d in views.items()])
    return float(np.sqrt(np.mean(np.sum(errors ** 2, axis=1))))


def with_noise(rendered: Rendered, names: list[str], poses: int, level_px: float,
               rng: np.random.Generator) -> dict[str, dict[int, Detection]]:
    """The first `poses` views of the named cameras, corners jittered up to level_px RMS."""
    chosen = {name: {i: d for i, d in rendered.detections[name].items() if i < poses}
              for name in names}
    present = corner_rms(rendered, chosen)
    sigma = np.sqrt(max(level_px ** 2 - present ** 2, 0.0) / 2.0)  # per axis
    return {name: {i: replace(d, corners=d.corners + rng.normal(0.0, sigma, d.corners.shape))
                   for i, d in views.items()} for name, views in chosen.items()}


def evaluate(case: str, rendered: Rendered, cameras: int, poses: int, level_px: float,
             seed: int, lens: str = 'estimated') -> Row:
    """lens: 'estimated' (k1, k2), 'tangential' (k1, k2, p1, p2) or 'given' (the truth)."""
    rig = rendered.cameras[:cameras]
    names = [camera.name for camera in rig]
    detections = with_noise(rendered, names, poses, level_px, np.random.default_rng(seed))
    views = [CameraViews(camera.name, f'{camera.name}_optical_frame',
                         (camera.lens.width, camera.lens.height), detections[camera.name],
                         poses, camera.lens if lens == 'given' else None) for camera in rig]
    start = time.perf_counter()
    result = calibrate(SPEC, views, tangential=lens == 'tangential')
    seconds = time.perf_counter() - start
    print(f'{case}: solved in {seconds:.1f} s', file=sys.stderr, flush=True)
    focal = max(abs(found / true - 1.0) * 100
                for camera in rig
                for found, true in zip(result.cameras[camera.name].lens.focal,
                                       np.diag(camera.lens.matrix)[:2]))
    pairs = [relative_error(rig[0].pose, camera.pose, result.cameras[rig[0].name].pose,
                            result.cameras[camera.name].pose) for camera in rig[1:]]
    detected = sum(len(v) for v in detections.values())
    return Row(case, cameras, poses, f'{detected}/{cameras * poses}',
               corner_rms(rendered, detections), focal,
               max(p[0] for p in pairs) * 1000, max(p[1] for p in pairs),
               float(np.median(np.concatenate([c.errors_px for c in result.cameras.values()]))),
               seconds)


# case -> (rendered set, cameras used, poses used, corner noise px, lens)
CASES = {
    'target: 3 cameras, 35 poses, 0.3 px': ('three', 3, 35, 0.3, 'estimated'),
    'fewer poses: 20': ('three', 3, 20, 0.3, 'estimated'),
    'fewer poses: 10': ('three', 3, 10, 0.3, 'estimated'),
    'more noise: 0.6 px': ('three', 3, 35, 0.6, 'estimated'),
    'more noise: 1.0 px': ('three', 3, 35, 1.0, 'estimated'),
    'narrow tilts (8 deg)': ('narrow', 3, 35, 0.3, 'estimated'),
    '2 cameras': ('three', 2, 35, 0.3, 'estimated'),
    '4 cameras, 40 poses': ('four', 4, 40, 0.3, 'estimated'),
    'with p1, p2 (--tangential)': ('three', 3, 35, 0.3, 'tangential'),
    'lenses given (camera_info)': ('three', 3, 35, 0.3, 'given'),
}
SETS = {  # set -> (cameras, poses, tilt deg, seed offset, oblique fraction)
    'three': (3, 35, 35.0, 0, 0.12),
    'narrow': (3, 35, 8.0, 1, 0.0),
    'four': (4, 40, 35.0, 2, 0.12),
}


def run(seed: int, only: str = '') -> list[Row]:
    """Every case whose name contains `only`, each set rendered once when first needed."""
    rendered: dict[str, Rendered] = {}
    rows = []
    for case, (key, cameras, poses, noise, lens) in CASES.items():
        if only not in case:
            continue
        if key not in rendered:
            count, total, tilt, offset, oblique = SETS[key]
            rendered[key] = render(count, total, tilt, seed + offset, oblique)
        rows.append(evaluate(case, rendered[key], cameras, poses, noise, seed, lens))
    return rows


def table(rows: list[Row]) -> str:
    lines = ['| case | views | corner px | focal % | translation mm | rotation deg | '
             'median reproj. px | solve s |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        focal = '(given)' if 'given' in r.case else f'{r.focal_pct:.3f}'
        lines.append(f'| {r.case} | {r.views} | {r.corner_px:.2f} | {focal} | '
                     f'{r.translation_mm:.2f} | {r.rotation_deg:.3f} | {r.median_px:.2f} | '
                     f'{r.seconds:.1f} |')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--only', default='', help='only the cases whose name contains this '
                                                   '(e.g. target)')
    parser.add_argument('--json', help='also write the rows to this file')
    args = parser.parse_args()
    start = time.perf_counter()
    rows = run(args.seed, args.only)
    print(table(rows))
    for target in (row for row in rows if row.case.startswith('target')):
        missed = [key for key, limit in TARGETS.items() if getattr(target, key) > limit]
        print(f'\ntarget case: focal {target.focal_pct:.3f} % (<= {TARGETS["focal_pct"]}), '
              f'translation {target.translation_mm:.2f} mm (<= {TARGETS["translation_mm"]}), '
              f'rotation {target.rotation_deg:.3f} deg (<= {TARGETS["rotation_deg"]}): '
              f'{"NOT met: " + ", ".join(missed) if missed else "all met"}')
    print(f'total {time.perf_counter() - start:.0f} s (seed {args.seed})')
    if args.json:
        with open(args.json, 'w') as file:
            json.dump({'seed': args.seed, 'targets': TARGETS,
                       'rows': [asdict(row) for row in rows]}, file, indent=1)


if __name__ == '__main__':
    main()
