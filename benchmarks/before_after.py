"""The node as deployed before and after a change, in one run on one machine (issue 23's note).

    .venv/bin/python -m benchmarks.before_after --base baebf2d [--seconds 20] [--json out]

Checks the base commit out into a temporary git worktree and, case by case, runs the node of
the base and of this checkout one after the other (so load drifts hit both alike) under the
same camera (tools/latency_probe.py of this checkout for both: the probe only publishes and
listens; the node, its launch file and its model code are each side's own, by PYTHONPATH, the
working folder and, for the launch cases, an ament prefix holding the base's launch/ and
config/). Same bench weights (two hands, tracked: random_weights.py) and, per side, its own
model cache (the int8 model calibrated by that side's code). Prints per case and side: output,
pose age p50 / p90, the receive / roi / estimate stage means, output x estimate, node RSS, and
the load average before each run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.node_bench import PROFILE, node_parameters, parse_case, rate_ratio
from benchmarks.random_weights import save_bench_checkpoint

REPO = Path(__file__).resolve().parents[1]
CASES = ('exact:640x480:raw:profile', 'exact,launch:640x480:raw:profile',
         'fastest:640x480:raw:profile', 'fastest,launch:640x480:raw:profile',
         'torch:640x480:raw:profile', 'exact,one-hand:640x480:raw:profile')
INT8 = ('from pathlib import Path; from benchmarks.bench import ensure_int8; '
        "ensure_int8(Path({path!r}), 'openvino', {cache!r}, {cache!r})")


def base_prefix(tree: Path, folder: Path) -> Path:
    """An ament prefix whose interhand_ros share is the base tree's (launch/, config/) and
    whose hands_node is this venv's script (it imports the package from PYTHONPATH)."""
    share = folder / 'share' / 'interhand_ros'
    share.mkdir(parents=True)
    for name in ('config', 'launch', 'package.xml'):
        (share / name).symlink_to(tree / name)
    index = folder / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    (index / 'interhand_ros').touch()
    executables = folder / 'lib' / 'interhand_ros'
    executables.mkdir(parents=True)
    (executables / 'hands_node').symlink_to(Path(sys.prefix) / 'lib' / 'interhand_ros'
                                            / 'hands_node')
    return folder


def side_environment(tree: Path, cache: Path, prefix: Path | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), INTERHAND_MODEL_CACHE=str(cache))
    if prefix is not None:
        env['AMENT_PREFIX_PATH'] = str(prefix)
    return env


def run_side(case: str, checkpoints: dict[str, Path], tree: Path, env: dict[str, str],
             seconds: float) -> dict[str, Any]:
    """One case with one side's node; the probe's result or {'error'}."""
    estimator, options, extra, size, transport, _ = parse_case(case)
    checkpoint = checkpoints['one-hand' if 'one-hand' in options else 'two']
    command = [sys.executable, '-m', 'tools.latency_probe', '--size', size, '--transport',
               transport, '--seconds', str(seconds), '--profile', str(PROFILE)]
    command += ['--launch'] if 'launch' in options else []
    for parameter in node_parameters(estimator, checkpoint, '') + extra:
        command += ['-p', parameter]
    load = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile(suffix='.json') as out:
        # the probe from this checkout (it has --launch); the node from the side's tree
        done = subprocess.run(command + ['--json', out.name], capture_output=True, text=True,
                              cwd=REPO if 'launch' in options else tree, env=env)
        result = (json.loads(Path(out.name).read_text()) if done.returncode == 0 else
                  {'error': (done.stderr or done.stdout).strip().splitlines()[-1:]})
    result['load_before'] = load
    return result


def row(case: str, side: str, r: dict[str, Any]) -> str:
    if 'error' in r:
        return f"| {case} | {side} | failed: {r['error']} | | | | | {r['load_before']:.1f} |"
    stages = ' / '.join(f"{r['stage_ms'].get(s, float('nan')):.1f}"
                        for s in ('receive', 'roi', 'estimate'))
    age = ('n/a' if r['pose_age_ms_p50'] is None else
           f"{r['pose_age_ms_p50']:.0f} / {r['pose_age_ms_p90']:.0f} ms")
    return (f"| {case} | {side} | {r['output_hz']:.1f} Hz | {age} | {stages} | "
            f"{rate_ratio(r):.2f} | {r['node_rss_mb_end']:.0f} MB | {r['load_before']:.1f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--base', required=True, help='the commit before the change')
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--cases', nargs='+', default=list(CASES))
    parser.add_argument('--json', type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='before_after_') as scratch:
        folder = Path(scratch)
        base = folder / 'base'
        subprocess.run(['git', '-C', str(REPO), 'worktree', 'add', '--detach', str(base),
                        args.base], check=True, capture_output=True)
        try:
            checkpoints = {hands: save_bench_checkpoint(folder / f'{hands}.pth', weights)
                           for hands, weights in (('two', 'two'), ('one-hand', 'right'))}
            sides = {'before': (base, side_environment(base, folder / 'cache_before',
                                                       base_prefix(base, folder / 'prefix'))),
                     'after': (REPO, side_environment(REPO, folder / 'cache_after', None))}
            for tree, env in sides.values():  # each side's int8 model, by its own code
                for checkpoint in checkpoints.values():
                    subprocess.run([sys.executable, '-c', INT8.format(
                        path=str(checkpoint), cache=env['INTERHAND_MODEL_CACHE'])],
                        cwd=tree, env=env, check=True, capture_output=True)
            results: dict[str, dict[str, Any]] = {}
            for case in args.cases:
                for side, (tree, env) in sides.items():
                    results[f'{case} {side}'] = r = run_side(case, checkpoints, tree, env,
                                                             args.seconds)
                    summary = r.get('error') or f"{r['output_hz']:.1f} Hz"
                    print(f'  {case} {side}: {summary}', flush=True)
        finally:
            subprocess.run(['git', '-C', str(REPO), 'worktree', 'remove', '--force', str(base)],
                           capture_output=True)
    print(f'base {args.base} vs this checkout, two hands unless the case says one-hand')
    print('| case | side | output | pose age p50 / p90 | receive / roi / estimate ms | '
          'output x estimate | node RSS | load before |')
    print('|---|---|---|---|---|---|---|---|')
    for key, r in results.items():
        case, side = key.rsplit(' ', 1)
        print(row(case, side, r))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
