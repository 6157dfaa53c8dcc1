"""interhand-quantize's report: how far a candidate model's joints move from fp32 on held-out
crops (crop pixels, and mm after lifting), whether it detects the same hands, how fast both run,
and the verdict against the user's thresholds. Kept apart from the tool so the measurement reads
on its own."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from interhand_ros.engine.backends.base import Backend
from interhand_ros.engine.estimator import EngineConfig, NetworkResult, lift_two_hands
from interhand_ros.estimate import TwoHandEstimate
from interhand_ros.runner.quantize_footage import HeldOut
from interhand_ros.skeleton import LEFT_SLICE, NUM_MODEL_JOINTS, RIGHT_SLICE, SIDES

_SPEED_REPEATS = 10


@dataclass
class Thresholds:
    max_error_px: float      # worst joint's mean error, crop pixels
    max_error_mm: float      # worst joint's mean error after lifting, mm
    min_agreement: float     # fraction of held-out crops with the same hands detected


def forward_ms(backend: Backend, crop: np.ndarray) -> float:
    """Median ms of the parts on one crop with both hands' parts run."""
    times = []
    for _ in range(_SPEED_REPEATS + 1):
        start = time.perf_counter()
        backend.infer(crop[None], 0.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1e3


def compare(reference: list[NetworkResult], candidate: list[NetworkResult],
            held_out: list[HeldOut], config: EngineConfig) -> dict[str, Any]:
    """Per-joint errors of candidate vs reference on the hands both detect, and agreement."""
    pixel_errors: list[list[float]] = [[] for _ in range(NUM_MODEL_JOINTS)]
    metre_errors: list[list[float]] = [[] for _ in range(NUM_MODEL_JOINTS)]
    agree = 0
    for ref, cand, item in zip(reference, candidate, held_out):
        lifted = [lift_two_hands(result, item.inverse, item.camera, None, config, item.box)
                  for result in (ref, cand)]
        detected = [tuple(hand.detected for hand in estimate.hands()) for estimate in lifted]
        agree += detected[0] == detected[1]
        for side, joints in zip(SIDES, (RIGHT_SLICE, LEFT_SLICE)):
            hands = [getattr(estimate, side) for estimate in lifted]
            if not (hands[0].detected and hands[1].detected):
                continue
            pixels = np.linalg.norm(ref.crop_xy[joints] - cand.crop_xy[joints], axis=1)
            metres = _lifted_error(lifted[0], lifted[1], side)
            for joint, (px, m) in enumerate(zip(pixels, metres)):
                if np.isfinite(px):
                    pixel_errors[joints.start + joint].append(float(px))
                if np.isfinite(m):
                    metre_errors[joints.start + joint].append(float(m))
    return {'held_out_crops': len(held_out),
            'presence_handedness_agreement': agree / len(held_out),
            'per_joint_error_px': _stats(pixel_errors, 1.0),
            'per_joint_error_mm': _stats(metre_errors, 1e3)}


def _lifted_error(reference: TwoHandEstimate, candidate: TwoHandEstimate, side: str
                  ) -> np.ndarray:
    ref, cand = getattr(reference, side), getattr(candidate, side)
    if ref.joints is None or cand.joints is None:
        return np.full(NUM_MODEL_JOINTS // 2, np.nan)
    return np.linalg.norm(np.asarray(ref.joints) - np.asarray(cand.joints), axis=1)


def _stats(errors: list[list[float]], scale: float) -> dict[str, Any]:
    means = [float(np.mean(e)) * scale if e else None for e in errors]
    values = [v * scale for e in errors for v in e]
    return {'mean_per_joint': means,
            'worst_joint_mean': max((m for m in means if m is not None), default=None),
            'mean': float(np.mean(values)) if values else None,
            'p95': float(np.percentile(values, 95)) if values else None,
            'max': float(np.max(values)) if values else None,
            'samples': len(values)}


def verdict(report: dict[str, Any], limits: Thresholds) -> list[str]:
    """Reasons the candidate is not good (empty: good)."""
    reasons = []
    agreement = report['presence_handedness_agreement']
    if agreement < limits.min_agreement:
        reasons.append(f'the same hands are detected in only {agreement:.1%} of the held-out '
                       f'crops (< {limits.min_agreement:.1%})')
    for key, limit, unit in (('per_joint_error_px', limits.max_error_px, 'crop px'),
                             ('per_joint_error_mm', limits.max_error_mm, 'mm')):
        worst = report[key]['worst_joint_mean']
        if worst is None:
            reasons.append(f'{unit} error unmeasured: no joint found (or, for mm, lifted to '
                           '3D) by both fp32 and the candidate; use footage with hands in view')
        elif worst > limit:
            reasons.append(f'worst joint moves {worst:.2f} {unit} on average (> {limit:g})')
    return reasons


def output_label(report: dict[str, Any]) -> str:
    """File name stem in --out: <precision> for OpenVINO (the default), else backend_precision."""
    if report.get('backend', 'openvino') == 'openvino':
        return str(report['precision'])
    return f"{report['backend']}_{report['precision']}"


def print_report(report: dict[str, Any]) -> None:
    px, mm = report['per_joint_error_px'], report['per_joint_error_mm']

    def number(value: float | None, unit: str) -> str:
        return 'n/a' if value is None else f'{value:.2f} {unit}'
    print(f"{report['backend']} {report['precision']} vs fp32 on {report['held_out_crops']} "
          f"held-out crops ({report['calibration_crops']} calibration crops, roi "
          f"{report['roi']}):")
    print(f"  joint error, crop px: mean {number(px['mean'], 'px')}, p95 "
          f"{number(px['p95'], 'px')}, max {number(px['max'], 'px')}, worst joint's mean "
          f"{number(px['worst_joint_mean'], 'px')} ({px['samples']} joints)")
    print(f"  joint error after lifting: mean {number(mm['mean'], 'mm')}, p95 "
          f"{number(mm['p95'], 'mm')}, worst joint's mean {number(mm['worst_joint_mean'], 'mm')}")
    print(f"  presence / handedness agreement: {report['presence_handedness_agreement']:.1%}")
    speed = report['speed_ms']
    print('  speed (parts, both hands, one crop): ' + ', '.join(
        f'{name} {ms:.1f} ms' for name, ms in speed.items()))
    if report['good']:
        print(f"GOOD: within the thresholds {report['thresholds']}")
    else:
        print('NOT GOOD: ' + '; '.join(report['reasons']))
    if 'model_dir' in report:
        print(f"model stored in {report['model_dir']}")
