"""Stress runs that prove the suite does not flake (not part of `make test`; issue 24).

    python -m tools.stress shutdown --runs 100          # test/test_node_shutdown.py, 100 times
    python -m tools.stress suite --runs 5 --hog         # the whole suite, a busy loop per core
    python -m tools.stress tests --runs 20 --hog test/test_node_ros.py test/test_node_faults.py

Each run is a fresh pytest process. After each run `fastdds shm clean` counts the shared-memory
segments that dead processes left (it also removes them, so every run starts clean). Prints one
line per run and a summary (runs, failed runs, each failing test with its count, leaked
segments), and writes it as JSON to out/stress/ (or --out).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from interhand_ros.dds_shm import clean_dead_segments

REPO = Path(__file__).resolve().parents[1]
TARGETS = {'shutdown': ['test/test_node_shutdown.py'], 'suite': ['test']}


def spin_forever() -> None:
    """A CPU hog: one core busy for as long as the process lives."""
    while True:
        pass


def failed_tests(junit: Path) -> list[str]:
    """The ids of the failed or errored tests in a pytest junit report."""
    if not junit.exists():
        return ['<pytest wrote no report>']
    failed = []
    for case in ET.parse(junit).iter('testcase'):
        if case.find('failure') is not None or case.find('error') is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return failed


def run_once(paths: list[str], log: Path) -> tuple[int, float, list[str], int]:
    """One pytest process over paths: (exit status, seconds, failed test ids, segments that
    dead processes left afterwards)."""
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / 'junit.xml'
        started = time.monotonic()
        with log.open('w') as output:
            status = subprocess.run(
                [sys.executable, '-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider',
                 f'--junitxml={junit}', *paths],
                cwd=REPO, stdout=output, stderr=subprocess.STDOUT, check=False).returncode
        seconds = time.monotonic() - started
        failed = failed_tests(junit) if status else []
    return status, seconds, failed, clean_dead_segments().segments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('what', choices=[*TARGETS, 'tests'])
    parser.add_argument('paths', nargs='*', help="test files or ids for 'tests'")
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--hog', action='store_true', help='a busy loop on every core')
    parser.add_argument('--out', type=Path, default=REPO / 'out' / 'stress')
    args = parser.parse_intermixed_args(argv)
    paths = args.paths if args.what == 'tests' else TARGETS[args.what]
    if not paths:
        parser.error("'tests' needs test paths")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime('%Y-%m-%d_%H%M%S')
    hogs = [multiprocessing.Process(target=spin_forever, daemon=True)
            for _ in range(os.cpu_count() or 1)] if args.hog else []
    for hog in hogs:
        hog.start()
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, '
          f'{len(hogs)} busy loops beside; {args.runs} runs of {" ".join(paths)}', flush=True)
    runs: list[dict[str, Any]] = []
    try:
        for index in range(args.runs):
            log = args.out / f'{stamp}_{args.what}_{index:03d}.log'
            status, seconds, failed, leaked = run_once(paths, log)
            runs.append({'status': status, 'seconds': round(seconds, 1), 'failed': failed,
                         'leaked_segments': leaked, 'log': str(log)})
            print(f'run {index + 1}/{args.runs}: exit {status}, {seconds:.0f} s, '
                  f'{len(failed)} failed, {leaked} leaked segment(s) {" ".join(failed)}',
                  flush=True)
    finally:
        for hog in hogs:
            hog.kill()
    failures = Counter(test for run in runs for test in run['failed'])
    summary = {'what': args.what, 'paths': paths, 'hog': bool(hogs), 'cpus': os.cpu_count(),
               'runs': len(runs), 'failed_runs': sum(1 for run in runs if run['status']),
               'failures': dict(failures),
               'leaked_segments': sum(run['leaked_segments'] for run in runs), 'each': runs}
    (args.out / f'{stamp}_{args.what}.json').write_text(json.dumps(summary, indent=1))
    print(f"{summary['failed_runs']} of {len(runs)} runs failed; leaked segments: "
          f"{summary['leaked_segments']}")
    for test, count in failures.most_common():
        print(f'  {count} x {test}')
    return 1 if summary['failed_runs'] else 0


if __name__ == '__main__':
    sys.exit(main())
