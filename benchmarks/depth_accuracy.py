"""Metric accuracy of the lifted hands per depth source, on synthetic RGB-D scenes of known truth.

    .venv/bin/python benchmarks/depth_accuracy.py [--users 10 --scenes-per-user 48 --seed 0]

Scenes: two hands of one user (scale 0.85-1.15 of the mean adult hand, each bone +-4 %) in
random poses, right wrist at 0.3-1.2 m, the left hand beside it (they overlap now and then),
a 640 x 480 camera with f = 600 px. The depth image is rendered from the hands' volume: every
bone a capsule of anatomical radius (fingers 7.5-11 mm, palm 14 mm, thenar 16 mm, forearm
22 mm; times the hand scale and a +-15 % per-hand factor), a tilted background plane behind,
RealSense-like noise (D4xx stereo: sigma = 0.08 px * z^2 / (f * 50 mm), half of it correlated
over 8 px blocks, 0.5 mm floor), 16UC1 millimetres, holes and flying pixels at depth edges,
1 % random dropouts, and in 15 % of the scenes one hand's depth lost entirely (glare, range).

The estimator's side is simulated from the truth, as InterNet would give it: 2D joints with
Gaussian noise of 3 crop pixels (crop = the hands' box squared x1.25, 256 px), relative joint
depths with 10 mm noise (together about the paper's 12 mm root-relative MPJPE), and the
relative root depth with Gaussian noise whose mean absolute value is the paper's MRRPE
32.57 mm. It goes through the package's own lifting (engine/estimator.lift_two_hands).

Rows: the hand-size prior at scale 1.0 (depth.mode hand_size); the prior after
self-calibration (each scene's scales calibrated on the user's other scenes with depth,
leave-one-out, geometry/hand_scale); the depth image as before issue 17 (the old settings:
palm windows without surface offset or outlier rejection for the right hand, the left hand
from the right + the predicted relative root depth); the depth image now (depth_image mode:
each hand measured, offset, rejection, calibrated prior for a hand without depth).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from interhand_ros.engine.estimator import (
    EngineConfig,
    NetworkResult,
    lift_two_hands,
)
from interhand_ros.estimate import DepthSource, TwoHandEstimate
from interhand_ros.geometry.box import Box
from interhand_ros.geometry.camera import CameraModel
from interhand_ros.geometry.crop import apply_affine, crop_transform, square_and_enlarge
from interhand_ros.geometry.hand_scale import HandScaleCalibrator
from interhand_ros.geometry.root_depth import (
    DEPTH_WINDOW_FRACTION,
    MEAN_BONE_LENGTHS_M,
    DepthImage,
    root_depth_from_depth_image,
    scale_at_depth,
)
from interhand_ros.skeleton import BONES, LEFT, NUM_JOINTS, RIGHT, ROS_TO_INTERHAND, SIDES, WRIST

WIDTH, HEIGHT, FOCAL = 640, 480, 600.0
CAMERA = CameraModel.from_intrinsics(
    np.array([[FOCAL, 0, WIDTH / 2 - 0.5], [0, FOCAL, HEIGHT / 2 - 0.5], [0, 0, 1]]),
    WIDTH, HEIGHT)
MRRPE_M = 0.03257                      # InterNet's mean relative root position error (paper)
ROOT_NOISE_M = MRRPE_M / np.sqrt(2 / np.pi)   # Gaussian sigma with that mean |error|
STEREO_SUBPIXEL, STEREO_BASELINE_M = 0.08, 0.050
HAND_LOST_PROBABILITY = 0.15
# finger base directions in the palm (deg from wrist -> middle MCP, towards the thumb)
BASE_ANGLES = np.radians([40.0, 12.0, 0.0, -11.0, -22.0])
FINGER_RADII_M = np.array([[0.011, 0.0095, 0.0085],                # thumb MCP, IP, tip bones
                           *[[0.0095, 0.0085, 0.0075]] * 4])       # proximal, middle, distal
PALM_RADIUS_M, THENAR_RADIUS_M, FOREARM_RADIUS_M = 0.014, 0.016, 0.022


@dataclass(frozen=True)
class Noise:
    """The simulated network's errors (defaults: about the paper's 12 mm MPJPE)."""

    pixel_crop_px: float = 3.0        # 2D joints, in the 256 px crop
    relative_depth_m: float = 0.010   # each joint's depth relative to its root
    root_m: float = ROOT_NOISE_M      # the left-minus-right root depth


@dataclass
class Scene:
    joints: dict[str, np.ndarray]       # (21, 3) truth per side, camera frame, m
    depth: DepthImage
    result: NetworkResult              # simulated network output
    inverse: np.ndarray                # crop -> image affine
    box: Box                           # the crop's box


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: rotation by angle (rad) about a unit axis."""
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def posed_hand(rng: np.random.Generator, scale: float, side: str) -> np.ndarray:
    """(21, 3) joints, wrist at 0: x to the fingers, y to the thumb (right hand), z dorsal."""
    lengths = MEAN_BONE_LENGTHS_M * scale * rng.normal(1.0, 0.04, len(BONES))
    joints = np.zeros((NUM_JOINTS, 3))
    for finger, angle in enumerate(BASE_ANGLES):
        spread = angle + rng.normal(0.0, np.radians(4.0))
        direction = np.array([np.cos(spread), np.sin(spread), 0.0])
        bend_axis = np.array([-np.sin(spread), np.cos(spread), 0.0])
        limits = (np.radians([30, 40, 30]) if finger == 0 else np.radians([70, 90, 60]))
        for level in range(4):
            bone = 4 * finger + level
            if level > 0:
                direction = rotation(bend_axis, -rng.uniform(0, limits[level - 1])) @ direction
            parent, child = BONES[bone]
            joints[child] = joints[parent] + lengths[bone] * direction
    if side == LEFT:
        joints[:, 1] *= -1.0
    return joints


def place_hand(rng: np.random.Generator, local: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """Fingers roughly up in the image, palm or back to the camera, +-50 deg about each axis."""
    up = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T  # x_local -> -y_cam
    flip = rotation(np.array([1.0, 0, 0]), np.pi) if rng.random() < 0.5 else np.eye(3)
    jitter = np.eye(3)
    for axis in np.eye(3):
        jitter = rotation(axis, rng.uniform(-0.87, 0.87)) @ jitter
    return local @ (jitter @ up @ flip).T + wrist


def capsules(joints: np.ndarray, radius_factor: float
             ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(start, end, radius) of the hand's volume: finger bones, palm, thenar and forearm."""
    parts = []
    for bone, (parent, child) in enumerate(BONES):
        finger, level = divmod(bone, 4)
        if level == 0:
            radius = THENAR_RADIUS_M if finger == 0 else PALM_RADIUS_M
        else:
            radius = FINGER_RADII_M[finger, level - 1]
        parts.append((joints[parent], joints[child], radius))
    parts.append((joints[5], joints[17], PALM_RADIUS_M * 0.85))   # across the knuckles
    forearm = joints[WRIST] - joints[9]
    forearm = joints[WRIST] + 0.15 * forearm / np.linalg.norm(forearm)
    parts.append((joints[WRIST], forearm, FOREARM_RADIUS_M))
    return [(a, b, r * radius_factor) for a, b, r in parts]


class Renderer:
    """Depth of the first surface along each pixel's ray (z, m); capsules as swept spheres."""

    def __init__(self) -> None:
        v, u = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
        self.dx, self.dy = (u - CAMERA.cx) / FOCAL, (v - CAMERA.cy) / FOCAL
        self.norm2 = 1.0 + self.dx ** 2 + self.dy ** 2

    def plane(self, rng: np.random.Generator, distance: float) -> np.ndarray:
        normal = np.array([*rng.uniform(-0.3, 0.3, 2), 1.0])
        return normal[2] * distance / (normal[0] * self.dx + normal[1] * self.dy + normal[2])

    def draw(self, z: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> None:
        steps = max(2, int(np.ceil(np.linalg.norm(end - start) / (radius / 3))) + 1)
        for centre in np.linspace(start, end, steps):
            if centre[2] <= radius:
                continue
            u, v = centre[:2] / centre[2] * FOCAL + (CAMERA.cx, CAMERA.cy)
            reach = FOCAL * radius / (centre[2] - radius) + 2
            u0, u1 = max(0, int(u - reach)), min(WIDTH, int(u + reach) + 1)
            v0, v1 = max(0, int(v - reach)), min(HEIGHT, int(v + reach) + 1)
            if u0 >= u1 or v0 >= v1:
                continue
            dx, dy, n2 = (a[v0:v1, u0:u1] for a in (self.dx, self.dy, self.norm2))
            b = dx * centre[0] + dy * centre[1] + centre[2]
            disc = b * b - n2 * (centre @ centre - radius * radius)
            hit = disc >= 0
            t = np.where(hit, (b - np.sqrt(np.maximum(disc, 0.0))) / n2, np.inf)
            np.minimum(z[v0:v1, u0:u1], t, out=z[v0:v1, u0:u1])


def sensor(rng: np.random.Generator, z: np.ndarray, lost: list[np.ndarray]) -> DepthImage:
    """RealSense-like measurement of the true depth z: noise, edges, dropouts, 16UC1 mm."""
    sigma = np.maximum(STEREO_SUBPIXEL * z ** 2 / (FOCAL * STEREO_BASELINE_M), 0.0005)
    coarse = rng.normal(size=(HEIGHT // 8 + 1, WIDTH // 8 + 1))
    correlated = np.kron(coarse, np.ones((8, 8)))[:HEIGHT, :WIDTH]
    measured = z + sigma / np.sqrt(2) * (rng.normal(size=z.shape) + correlated)
    neighbours = np.stack([np.roll(z, shift, axis) for shift in (1, -1) for axis in (0, 1)])
    edge = np.max(np.abs(neighbours - z), axis=0) > 0.02
    flying = edge & (rng.random(z.shape) < 0.5)
    low, high = neighbours.min(axis=0), neighbours.max(axis=0)
    measured[flying] = (low + rng.random(z.shape) * (high - low))[flying]
    invalid = (edge & ~flying) | (rng.random(z.shape) < 0.01)
    for pixels in lost:  # the whole hand's region: glare, out of range
        centre, reach = pixels.mean(axis=0), np.ptp(pixels, axis=0).max() * 0.75
        v, u = np.ogrid[:HEIGHT, :WIDTH]
        invalid |= (u - centre[0]) ** 2 + (v - centre[1]) ** 2 <= reach ** 2
    millimetres = np.clip(np.round(measured * 1000), 0, 65535).astype(np.uint16)
    millimetres[invalid | ~np.isfinite(measured)] = 0
    return DepthImage.from_array(millimetres, '16UC1')


def network_output(rng: np.random.Generator, joints: dict[str, np.ndarray], noise: Noise
                   ) -> tuple[NetworkResult, np.ndarray, Box]:
    """What InterNet would output for these hands, with the noise of the module docstring."""
    pixels = {side: CAMERA.camera_to_pixel(joints[side]) for side in SIDES}
    both = np.concatenate(list(pixels.values()))
    low, high = both.min(axis=0), both.max(axis=0)
    box = square_and_enlarge(Box(low[0], low[1], *(high - low)))
    transform, inverse = crop_transform(box)
    crop_xy, depth_rel = [], []
    for side in SIDES:
        crop = apply_affine(transform, pixels[side])
        crop_xy.append((crop + rng.normal(0, noise.pixel_crop_px, crop.shape))[ROS_TO_INTERHAND])
        relative = joints[side][:, 2] - joints[side][WRIST, 2]
        depth_rel.append((relative + rng.normal(0, noise.relative_depth_m, NUM_JOINTS))
                         [ROS_TO_INTERHAND])
    root = joints[LEFT][WRIST, 2] - joints[RIGHT][WRIST, 2] + rng.normal(0, noise.root_m)
    result = NetworkResult(np.concatenate(crop_xy), np.concatenate(depth_rel),
                           np.ones(2 * NUM_JOINTS), float(root), np.ones(2))
    return result, inverse, box


def make_scene(rng: np.random.Generator, renderer: Renderer, scale: float, noise: Noise
               ) -> Scene:
    while True:
        distance = rng.uniform(0.3, 1.2)
        right_wrist = np.array([rng.uniform(-0.3, 0.1) * distance, rng.uniform(0.0, 0.25)
                                * distance, distance])
        left_wrist = right_wrist + [rng.uniform(0.06, 0.16), rng.normal(0, 0.03),
                                    rng.uniform(-0.08, 0.08)]
        joints = {side: place_hand(rng, posed_hand(rng, scale * (1.0 if side == RIGHT else
                                                                  rng.normal(1.0, 0.01)), side),
                                   wrist)
                  for side, wrist in ((RIGHT, right_wrist), (LEFT, left_wrist))}
        pixels = {side: CAMERA.camera_to_pixel(joints[side]) for side in SIDES}
        inside = all(np.all((p > 5) & (p < (WIDTH - 5, HEIGHT - 5))) for p in pixels.values())
        if inside and min(j[:, 2].min() for j in joints.values()) > 0.25:
            break
    z = renderer.plane(rng, max(j[:, 2].max() for j in joints.values()) + rng.uniform(0.15, 0.8))
    for side in SIDES:
        for start, end, radius in capsules(joints[side], scale * rng.uniform(0.85, 1.15)):
            renderer.draw(z, start, end, radius)
    lost = [pixels[side] for side in SIDES if rng.random() < HAND_LOST_PROBABILITY / 2]
    result, inverse, box = network_output(rng, joints, noise)
    return Scene(joints, sensor(rng, z, lost), result, inverse, box)


def before_issue_17(scene: Scene) -> TwoHandEstimate:
    """The old path by its settings: right root from the palm windows (offset 0, no rejection),
    else the prior; left = right + the predicted relative root depth (fixed mode does that)."""
    right = scene.result.crop_xy[:NUM_JOINTS][np.argsort(ROS_TO_INTERHAND)]
    pixels = apply_affine(scene.inverse, right)
    relative = scene.result.depth_rel_m[:NUM_JOINTS][np.argsort(ROS_TO_INTERHAND)]
    window = max(1, int(round(DEPTH_WINDOW_FRACTION * scene.box.w)))
    root = root_depth_from_depth_image(scene.depth, pixels, relative, (WIDTH, HEIGHT), window,
                                       surface_offset_m=0.0, reject_outliers=False)
    config = (EngineConfig(depth_mode='fixed', fixed_depth_m=root) if root is not None
              else EngineConfig(depth_mode='hand_size'))
    return lift_two_hands(scene.result, scene.inverse, CAMERA, None, config, scene.box)


def errors(estimate: TwoHandEstimate, scene: Scene) -> dict[str, tuple[float, float, int]]:
    """Per side: (root depth error, MPJPE) in mm and the depth source."""
    out = {}
    for hand in estimate.hands():
        truth = scene.joints[hand.side]
        out[hand.side] = (abs(hand.joints[WRIST, 2] - truth[WRIST, 2]) * 1e3,
                          float(np.mean(np.linalg.norm(hand.joints - truth, axis=1))) * 1e3,
                          int(hand.depth_source))
    return out


def oracle_prior_errors(scene: Scene) -> dict[str, float]:
    """Per side: the prior's relative root error at the scale that fits the noise-free hand
    exactly (a perfect calibration): the floor the network's noise leaves to any scale."""
    scales = {}
    for side in SIDES:
        joints = scene.joints[side]
        relative = joints[:, 2] - joints[WRIST, 2]
        scale = scale_at_depth(joints[:, :2] / joints[:, 2:], relative, joints[WRIST, 2])
        if scale is not None:
            scales[side] = scale
    estimate = lift_two_hands(scene.result, scene.inverse, CAMERA, None, EngineConfig(),
                              scene.box, scales)
    return {h.side: abs(h.joints[WRIST, 2] / scene.joints[h.side][WRIST, 2] - 1)
            for h in estimate.hands()}


def calibrated_scales(measured: list[dict[str, float]], leave_out: int) -> dict[str, float]:
    """The user's scales from the other scenes' depth measurements (a fresh calibrator)."""
    calibrator = HandScaleCalibrator()
    for index, scales in enumerate(measured):
        if index != leave_out:
            for side, value in scales.items():
                calibrator.observe(side, value)
    return calibrator.scales()


def evaluate(users: int, per_user: int, seed: int, noise: Noise) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    renderer = Renderer()
    rows: dict[str, list] = {name: [] for name in ROWS}
    rows['distance'], rows['disagreement'], rows['oracle'] = [], [], []
    now = EngineConfig(depth_mode='depth_image')
    for _ in range(users):
        scale = rng.uniform(0.85, 1.15)
        scenes = [make_scene(rng, renderer, scale, noise) for _ in range(per_user)]
        uncalibrated = [lift_two_hands(s.result, s.inverse, CAMERA, s.depth, now, s.box)
                        for s in scenes]
        measured = [{h.side: h.measured_scale for h in e.hands()} for e in uncalibrated]
        for index, scene in enumerate(scenes):
            calibrated = calibrated_scales(measured, index)
            after = lift_two_hands(scene.result, scene.inverse, CAMERA, scene.depth, now,
                                   scene.box, calibrated)
            estimates = {
                ROWS[0]: lift_two_hands(scene.result, scene.inverse, CAMERA, None,
                                        EngineConfig(depth_mode='hand_size'), scene.box),
                ROWS[1]: lift_two_hands(scene.result, scene.inverse, CAMERA, None,
                                        EngineConfig(), scene.box, calibrated),
                ROWS[2]: before_issue_17(scene), ROWS[3]: after}
            for name, estimate in estimates.items():
                rows[name].append(errors(estimate, scene))
            rows['distance'].append({side: scene.joints[side][WRIST, 2] for side in SIDES})
            rows['disagreement'].append(after.root_depth_disagreement)
            rows['oracle'].append(oracle_prior_errors(scene))
    return rows


ROWS = ('hand-size prior, scale 1.0', 'hand-size prior, self-calibrated',
        'depth image, before issue 17', 'depth image, now')


def report(rows: dict[str, list], seconds: float) -> None:
    count = len(rows['distance'])
    print(f'{count} scenes, {WIDTH}x{HEIGHT} f={FOCAL:.0f} px, hands 0.3-1.2 m, scale 0.85-1.15 '
          f'({seconds:.1f} s)')
    print(f"{'row':34s} {'hand':5s} {'root err mm med/p90':>20s} {'MPJPE mm med/p90':>18s}  "
          'depth sources')
    for name in ROWS:
        for side in SIDES:
            root, mpjpe, source = (np.array([e[side][i] for e in rows[name]]) for i in range(3))
            mix = ', '.join(f'{DepthSource(s).name} {np.mean(source == s):.1%}'
                            for s in np.unique(source))
            root, mpjpe = root[np.isfinite(root)], mpjpe[np.isfinite(mpjpe)]  # NONE: no answer
            print(f'{name:34s} {side:5s} {np.median(root):9.1f} / {np.percentile(root, 90):6.1f}'
                  f' {np.median(mpjpe):8.1f} / {np.percentile(mpjpe, 90):6.1f}  {mix}')
    print('targets:')
    for side in SIDES:
        distance = np.array([d[side] for d in rows['distance']])
        near = distance <= 1.0
        root = np.array([e[side][0] for e in rows[ROWS[3]]])[near]
        relative = np.array([e[side][0] for e in rows[ROWS[1]]]) / (distance * 1e3)
        root, relative = root[np.isfinite(root)], relative[np.isfinite(relative)]
        oracle = np.array([e[side] for e in rows['oracle']])
        print(f'  {side:5s} depth image now, hands <= 1 m: root error median '
              f'{np.median(root):.1f} mm (target <= 10); self-calibrated prior: median '
              f'{np.median(relative) * 100:.2f} % of the distance (target <= 2 %; a perfect '
              f'scale: {np.median(oracle) * 100:.2f} %)')
    disagreement = np.array(rows['disagreement'])
    disagreement = disagreement[np.isfinite(disagreement)]
    print(f'  measured vs predicted relative root depth (diagnostics): mean |disagreement| '
          f'{np.mean(np.abs(disagreement)) * 1e3:.1f} mm over {disagreement.size} scenes '
          f'(simulated MRRPE {MRRPE_M * 1e3:.2f} mm)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--users', type=int, default=10)
    parser.add_argument('--scenes-per-user', type=int, default=48,
                        help='the calibration uses the other scenes (15 frames minimum)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--pixel-noise', type=float, default=Noise.pixel_crop_px,
                        help='crop px, the simulated network\'s 2D joint noise')
    parser.add_argument('--relative-depth-noise', type=float, default=Noise.relative_depth_m,
                        help='m, its relative joint depth noise')
    args = parser.parse_args(argv)
    noise = Noise(args.pixel_noise, args.relative_depth_noise)
    print(f'simulated network noise: {noise.pixel_crop_px:g} crop px, relative depth '
          f'{noise.relative_depth_m * 1e3:g} mm, relative root depth {noise.root_m * 1e3:.1f} mm')
    start = time.perf_counter()
    rows = evaluate(args.users, args.scenes_per_user, args.seed, noise)
    report(rows, time.perf_counter() - start)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
