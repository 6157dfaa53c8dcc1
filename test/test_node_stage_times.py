"""Where a frame's time goes in the node, and the probe that measures the node as deployed.

The pipeline times each stage of every published frame onto /diagnostics (stage_<name>_ms);
tools/latency_probe.py runs the real hands_node process under a camera in its own process and
reads those values back (the benchmark's node figures come from it).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.node_bench import PROFILE
from interhand_ros.ros.pipeline import STAGES

from test_node_ros import ScriptedEstimator

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


def test_diagnostics_give_each_stage_of_a_published_frame(harness_factory):
    delay = 0.05  # the scripted estimator sleeps this long: its stage cannot take less
    h = harness_factory(ScriptedEstimator(delay=delay), **{'roi.mode': 'full'})
    for _ in range(3):
        h.wait_for_stamp(h.send_good(), timeout=5.0)

    def stages() -> dict[str, float]:
        values = {kv.key: kv.value for kv in h.diagnostics[-1].values} if h.diagnostics else {}
        return {key[len('stage_'):-len('_ms')]: float(value) for key, value in values.items()
                if key.startswith('stage_')}

    h.wait_for(lambda: len(stages()) == len(STAGES), 5.0, 'stage times on /diagnostics')
    times = stages()
    assert set(times) == set(STAGES)
    assert all(math.isfinite(value) and value >= 0.0 for value in times.values()), times
    assert times['estimate'] >= delay * 1e3
    assert times['receive'] >= 0.0 and times['convert'] < times['estimate']


def test_probe_measures_the_node_process_from_a_camera_process(tmp_path):
    """The landmark fallback under a 30 Hz camera process: the probe's summary is complete."""
    out = tmp_path / 'probe.json'
    done = subprocess.run(
        [sys.executable, '-m', 'tools.latency_probe', '--seconds', '2',
         '--profile', str(PROFILE) if PROFILE.is_file() else '', '--json', str(out),
         '--node-log', str(tmp_path / 'node.log')],
        capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:] + (tmp_path / 'node.log').read_text()[-2000:]
    result = json.loads(out.read_text())
    assert 'landmark fallback' in result['estimator']
    assert result['sent'] >= 50 and 0 < result['received_by_node'] <= result['sent']
    assert 0 < result['poses'] <= result['received_by_node']
    assert result['pose_age_ms_p50'] > 0 and result['pose_age_ms_p90'] >= result['pose_age_ms_p50']
    assert set(result['stage_ms']) == set(STAGES)
    assert result['node_rss_mb_start'] > 0 and result['node_cpu_pct'] > 0
