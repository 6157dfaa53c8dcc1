"""How the latency probe starts the node and watches it: its command (hands_node alone or
through launch/hands.launch.py), its environment and its CPU and memory use (tools/latency_probe.py,
benchmarks/soak.py).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from interhand_ros.settings import SPECS, launch_argument
from tools.demo import node_command
from tools.demo_topics import NAMESPACE

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / 'test' / 'launch_child.py'  # `ros2 launch` (ros2launch is not on PyPI)


def probe_command(checkpoint: str, parameters: list[str], launch: bool) -> list[str]:
    """hands_node with the demo's topics and `parameters` (name:=value), or with launch."""
    if launch:
        return launch_command(checkpoint, parameters)
    command = node_command(checkpoint)
    for parameter in parameters:
        command += ['-p', parameter]
    return command


def launch_command(checkpoint: str, parameters: list[str]) -> list[str]:
    """hands.launch.py on the probe's topics, node parameters name:=value as launch arguments
    (only those the launch file offers: settings.PARAMETERS marked launch)."""
    arguments = [f'camera:={NAMESPACE}/camera', f'namespace:={NAMESPACE}', 'use_rviz:=false']
    if checkpoint:
        arguments.append(f'checkpoint:={checkpoint}')
    for parameter in parameters:
        name, _, value = parameter.partition(':=')
        if name not in SPECS or not SPECS[name].launch:
            raise ValueError(f'{name} is not an argument of hands.launch.py')
        arguments.append(f'{launch_argument(SPECS[name])}:={value}')
    return [sys.executable, str(LAUNCHER), 'hands.launch.py', *arguments]


def launched_node_pid(launcher: int, timeout: float = 240.0) -> int:
    """The hands_node process that the launch process `launcher` started (its child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f'/proc/{launcher}').exists():
        for stat in Path('/proc').glob('[0-9]*/stat'):
            try:
                fields = stat.read_text().rsplit(')', 1)[1].split()
                command = (stat.parent / 'cmdline').read_bytes()
            except OSError:
                continue  # the process ended meanwhile
            if int(fields[1]) == launcher and b'hands_node' in command:
                return int(stat.parent.name)
        time.sleep(0.2)
    raise RuntimeError(f'hands.launch.py started no hands_node (within {timeout:.0f} s)')


def process_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds used so far, RSS MB) of a process, from /proc."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    rss = next(int(line.split()[1]) for line in Path(f'/proc/{pid}/status').read_text()
               .splitlines() if line.startswith('VmRSS:')) / 1024
    return cpu, rss


def node_environment(profile: str | Path, domain: int) -> dict[str, str]:
    """Both processes' environment: a private domain on loopback, the DDS profile ('' = none)."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    # hands.launch.py finds the package in the ament index: the venv is the install prefix,
    # after any overlay already given
    prefixes = [p for p in env.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(
        prefixes + ([] if sys.prefix in prefixes else [sys.prefix]))
    if profile:
        if not Path(profile).is_file():
            raise FileNotFoundError(f'Fast DDS profile {profile} does not exist')
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(Path(profile).resolve())
    return env
