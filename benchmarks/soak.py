"""Soak: the node as deployed for N minutes; memory, delivery and output rate over time.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--estimator fastest] [--checkpoint X]

The real hands_node process under a camera in this process (tools/latency_probe.py:
640x480 rgb8 of the hand photo at 30 Hz, sensor-data QoS, config/fastdds.xml given to both
processes), with the fastest InterNet runtime by default (precision int8; with the bench's
random weights, two hands present and tracked (random_weights.py), an int8 model is calibrated
on random crops first, as `make bench` does: speed only). Prints the node's RSS at the start
and end, the frames delivered (exact over the whole run, from the node's counters with pauses
before and after) and, per minute, the output rate (poses of that minute's frames), the frames
the node received (approximate: its /diagnostics counter at the minute's end, at most 1 s old)
and pose age p50/p90.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench import ensure_int8
from benchmarks.node_bench import ESTIMATORS, node_parameters
from benchmarks.random_weights import save_bench_checkpoint
from tools.latency_probe import SETTLE, DeployedNode, parser
from tools.node_process import process_usage


def soak(node: DeployedNode, rows: int, rate: float, row_s: float = 60.0) -> dict[str, Any]:
    """Play `rows` x `row_s` seconds without pause; the summary and one row per period."""
    camera = node.camera
    assert camera is not None
    time.sleep(SETTLE)
    first = int(camera.fresh_diagnostics(time.monotonic())['frames_received'])
    camera.new_window()
    rss_start = process_usage(node.node_pid)[1]
    sent_per_minute, received_at = [], [first]
    for minute in range(rows):
        sent_per_minute.append(camera.play(rate, row_s))
        received_at.append(int(camera.fresh_diagnostics(time.monotonic() - 1.0)
                               ['frames_received']))
        print(f'  {minute + 1}: {len(camera.window.ages)} poses so far', flush=True)
    time.sleep(SETTLE)
    last = int(camera.fresh_diagnostics(time.monotonic())['frames_received'])
    ages = camera.new_window().ages
    table = []
    for minute, sent in enumerate(sent_per_minute):
        answered = np.array([ages[s] for s in sent if s in ages]) * 1e3
        table.append({'minute': minute + 1, 'sent': len(sent),
                     'received_approx': received_at[minute + 1] - received_at[minute],
                     'output_hz': answered.size / row_s,
                     'pose_age_ms_p50': float(np.percentile(answered, 50)) if answered.size
                     else None,
                     'pose_age_ms_p90': float(np.percentile(answered, 90)) if answered.size
                     else None})
    sent_total = sum(len(sent) for sent in sent_per_minute)
    return {'node_rss_mb_start': rss_start, 'node_rss_mb_end': process_usage(node.node_pid)[1],
            'sent': sent_total, 'received_by_node': last - first,
            'delivered_pct': 100.0 * (last - first) / max(1, sent_total), 'minutes': table}


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument('--minutes', type=float, default=10.0)
    options.add_argument('--row-seconds', type=float, default=60.0,
                         help='one printed row per this many seconds (short checks: 10)')
    options.add_argument('--estimator', choices=ESTIMATORS, default='fastest',
                         help='as in node_bench.py: fastest = precision int8')
    options.add_argument('--checkpoint', type=Path, default=None, help='default: random weights')
    options.add_argument('--cache-dir', default='', help="model cache ('' = the user's)")
    options.add_argument('--json', type=Path, default=None)
    args, probe_argv = options.parse_known_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or save_bench_checkpoint(Path(scratch) / 'two_hands.pth')
        cache = args.cache_dir
        if args.estimator == 'fastest':
            cache = ensure_int8(checkpoint, 'openvino', args.cache_dir, scratch)
        probe = parser().parse_args(probe_argv + [
            arg for p in node_parameters(args.estimator, checkpoint, cache) for arg in ('-p', p)])
        node = DeployedNode(probe)
        try:
            estimator = node.camera.diagnostics.get('estimator', '') if node.camera else ''
            print(f'soak: {args.minutes} min, {probe.size[0]}x{probe.size[1]} {probe.transport} '
                  f'at {probe.rate:g} Hz, profile {probe.profile or "none"}, {estimator}',
                  flush=True)
            result = soak(node, round(args.minutes * 60 / args.row_seconds), probe.rate,
                          args.row_seconds)
        finally:
            node.close()
    print(f"node RSS {result['node_rss_mb_start']:.0f} MB at start, "
          f"{result['node_rss_mb_end']:.0f} MB at end; delivered {result['delivered_pct']:.1f} % "
          f"({result['received_by_node']}/{result['sent']})")
    print(f'| row ({args.row_seconds:g} s) | output | received (approx.) | pose age p50 / p90 |'
          '\n|---|---|---|---|')
    for row in result['minutes']:
        age = ('n/a' if row['pose_age_ms_p50'] is None else
               f"{row['pose_age_ms_p50']:.0f} / {row['pose_age_ms_p90']:.0f} ms")
        print(f"| {row['minute']} | {row['output_hz']:.1f} Hz | "
              f"{row['received_approx']}/{row['sent']} | {age} |")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
