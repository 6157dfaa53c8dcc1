"""The node as deployed, for `make bench`: hands_node in its own process, a camera in another.

Each case runs tools/latency_probe.py in a fresh process (its own DDS participant and profile):
a camera at 30 Hz publishing the hand photo at one size and transport, the real hands_node
given only the parameters the case names. A case is `estimator[,option...]:WxH:transport:
profile`, options after the estimator being `launch`, `one-hand` or node parameters
`name:=value` (e.g. `exact,roi.mode:=full`):
- estimator: `fallback` (no checkpoint: MediaPipe landmarks), `exact` (`checkpoint:=X` and
  nothing else: backend auto = the fastest exact runtime), `fastest` (`precision:=int8`, the
  fastest InterNet runtime, from the int8 model in the cache), `torch` (`backend:=torch`, the
  default before backend auto);
- `launch`: started by launch/hands.launch.py as deployed (config/hands.yaml, the parameters
  as launch arguments; the model cache by $INTERHAND_MODEL_CACHE: cache_dir is no argument);
- `one-hand`: the weights say only the right hand is present (the left heatmap branch, 28 % of
  the network, is skipped); without it both hands are present (benchmarks/random_weights.py);
- transport: `raw` (sensor_msgs/Image rgb8) or `compressed` (JPEG, image_transport compressed);
- profile: `profile` (config/fastdds.xml given to both processes) or `none` (default transports).
Printed per case: frames delivered, output rate, pose age p50/p90, the node's CPU use and RSS,
the ratio of the output rate to the rate its estimate stage alone allows (1000 / estimate ms),
and where a frame's time goes in the node (its /diagnostics per-stage means).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PROFILE = Path(__file__).resolve().parents[1] / 'config' / 'fastdds.xml'  # large images via SHM
ESTIMATORS = ('fallback', 'exact', 'fastest', 'torch')
OPTIONS = ('launch', 'one-hand')
DEFAULT_CASES = (  # issue 23's table (two hands, 640x480 at 30 Hz), then one hand and no model
    'exact:640x480:raw:profile', 'exact,launch:640x480:raw:profile',
    'fastest:640x480:raw:profile', 'fastest,launch:640x480:raw:profile',
    'torch:640x480:raw:profile', 'exact,one-hand:640x480:raw:profile',
    'fallback:640x480:raw:profile')
# `--node-cases transport`: images over DDS by size, transport and profile (issue 13)
TRANSPORT_CASES = (
    'fallback:640x480:raw:profile', 'fallback:640x480:raw:none',
    'fallback:1280x720:raw:profile', 'fallback:1280x720:raw:none',
    'fallback:640x480:compressed:none', 'fallback:1280x720:compressed:none')
# issue 23's targets on a 2-core CPU with AVX-512 VNNI, two hands: case -> (output Hz at
# least, pose age p90 ms at most); on any machine: output >= RATIO_TARGET x 1000 / estimate ms
TARGETS = {'exact:640x480:raw:profile': (8.0, float('inf')),
           'exact,launch:640x480:raw:profile': (8.0, float('inf')),
           'fastest:640x480:raw:profile': (20.0, 100.0),
           'fastest,launch:640x480:raw:profile': (20.0, 100.0)}
RATIO_TARGET = 0.9
STAGE_NAMES = {'receive': 'receive (stamp -> worker)', 'convert': 'convert', 'roi': 'roi',
               'estimate': 'estimate (crop + network + lift)', 'teleop': 'teleop',
               'publish': 'build + publish'}


def expand(cases: list[str]) -> list[str]:
    """The cases with `transport` replaced by TRANSPORT_CASES."""
    return [one for case in cases for one in (TRANSPORT_CASES if case == 'transport' else [case])]


def node_parameters(estimator: str, checkpoint: Path, cache_dir: str) -> list[str]:
    """The node's parameters for an estimator of a case (everything else: the defaults)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f'estimator must be one of {ESTIMATORS}, got {estimator!r}')
    if estimator == 'fallback':
        return []
    parameters = [f'checkpoint:={checkpoint}'] + ([f'cache_dir:={cache_dir}'] if cache_dir
                                                  else [])
    return parameters + {'exact': [], 'fastest': ['precision:=int8'],
                         'torch': ['backend:=torch']}[estimator]


def parse_case(case: str) -> tuple[str, set[str], list[str], str, str, str]:
    """(estimator, options, extra node parameters, size, transport, profile) of a case."""
    named, size, transport, uses_profile = case.rsplit(':', 3)
    estimator, *rest = named.split(',')
    options = {item for item in rest if item in OPTIONS}
    unknown = [item for item in rest if item not in OPTIONS and ':=' not in item]
    if estimator not in ESTIMATORS or unknown:
        raise ValueError(f'case {case!r}: estimator one of {ESTIMATORS}, options {OPTIONS} or '
                         'name:=value')
    return (estimator, options, [item for item in rest if ':=' in item], size, transport,
            uses_profile)


def run_node_case(case: str, checkpoints: dict[str, Path], cache_dir: str, profile: str,
                  seconds: float) -> dict[str, Any]:
    """One case through tools/latency_probe.py in its own process; its result or {'error'}.
    checkpoints: 'two' and 'one-hand' -> the weights of each."""
    estimator, options, extra, size, transport, uses_profile = parse_case(case)
    checkpoint = checkpoints['one-hand' if 'one-hand' in options else 'two']
    launch = 'launch' in options
    command = [sys.executable, '-m', 'tools.latency_probe', '--size', size,
               '--transport', transport, '--seconds', str(seconds),
               '--profile', profile if uses_profile == 'profile' else '']
    command += ['--launch'] if launch else []
    for parameter in node_parameters(estimator, checkpoint, '' if launch else cache_dir) + extra:
        command += ['-p', parameter]
    # cache_dir is no launch argument: a launched node reads the cache named by the variable
    env = dict(os.environ, **({'INTERHAND_MODEL_CACHE': cache_dir} if launch and cache_dir
                              else {}))
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        done = subprocess.run(command + ['--json', out.name], capture_output=True, text=True,
                              env=env)
        if done.returncode != 0:
            return {'error': (done.stderr or done.stdout).strip().splitlines()[-1:]}
        return json.loads(Path(out.name).read_text())


def rate_ratio(result: dict[str, Any]) -> float:
    """Output rate / the rate the estimate stage alone allows (nan without an estimate)."""
    return result['output_hz'] * result['stage_ms'].get('estimate', float('nan')) / 1000.0


def print_node_table(results: dict[str, dict[str, Any]]) -> None:
    """Markdown: delivery, rate, age, CPU and memory per case, then the node's time per stage."""
    print('| case | estimator | delivered | output | pose age p50 / p90 | output x estimate '
          '| node / camera CPU | node RSS |')
    print('|---|---|---|---|---|---|---|---|')
    for case, r in results.items():
        if 'error' in r:
            print(f'| {case} | failed: {r["error"]} | | | | | | |')
            continue
        age = ('n/a' if r['pose_age_ms_p50'] is None else
               f"{r['pose_age_ms_p50']:.0f} / {r['pose_age_ms_p90']:.0f} ms")
        print(f"| {case} | {r['estimator']} | {r['delivered_pct']:.1f} % "
              f"({r['received_by_node']}/{r['sent']}) | {r['output_hz']:.1f} Hz | {age} | "
              f"{rate_ratio(r):.2f} | {r['node_cpu_pct']:.0f} % / {r['camera_cpu_pct']:.0f} % | "
              f"{r['node_rss_mb_end']:.0f} MB |")
    print('\nWhere a frame\'s time goes in the node (mean ms per published frame, /diagnostics):')
    print('| case | ' + ' | '.join(STAGE_NAMES.values()) + ' |')
    print('|---' * (len(STAGE_NAMES) + 1) + '|')
    for case, r in results.items():
        if 'error' not in r:
            print(f'| {case} | ' + ' | '.join(
                f"{r['stage_ms'].get(stage, float('nan')):.1f}" for stage in STAGE_NAMES) + ' |')


def print_targets(results: dict[str, dict[str, Any]]) -> None:
    """Issue 23's targets: rate and age on the reference CPU, the rate ratio anywhere."""
    for case, (rate, age) in TARGETS.items():
        r = results.get(case, {})
        if r.get('pose_age_ms_p90') is not None:
            met = r['output_hz'] >= rate and r['pose_age_ms_p90'] <= age
            bound = f', p90 <= {age:g} ms' if math.isfinite(age) else ''
            print(f"target {case} (2-core AVX-512 VNNI): >= {rate:g} Hz{bound}: "
                  f"{r['output_hz']:.1f} Hz, p90 {r['pose_age_ms_p90']:.0f} ms: "
                  f"{'met' if met else 'MISSED'}")
    for case, r in results.items():
        if 'error' not in r and 'estimate' in r['stage_ms']:
            ratio = rate_ratio(r)
            print(f"target {case}: output >= {RATIO_TARGET:g} x 1000 / estimate ms: "
                  f"{ratio:.2f}: {'met' if ratio >= RATIO_TARGET else 'MISSED'}")


def run_node_cases(cases: list[str], checkpoints: dict[str, Path], cache_dirs: dict[str, str],
                   profile: str, seconds: float) -> dict[str, dict[str, Any]]:
    """Every case in turn (cache_dirs: estimator -> the model cache of its cases that are not
    launched; '' = the default), printed as it ends."""
    cases = expand(cases)
    if any(case.endswith(':profile') for case in cases) and not Path(profile).is_file():
        print(f'Fast DDS profile {profile} does not exist: the profile cases will fail')
    results = {}
    for case in cases:
        load = os.getloadavg()[0]
        results[case] = result = run_node_case(
            case, checkpoints, cache_dirs.get(parse_case(case)[0], ''), profile, seconds)
        result['load_before'] = load
        print(f'  node {case}: ' + (str(result['error']) if 'error' in result else
                                    f"{result['delivered_pct']:.0f} % delivered, "
                                    f"{result['output_hz']:.1f} Hz out")
              + f' (load {load:.1f})', flush=True)
    print_node_table(results)
    print_targets(results)
    return results
