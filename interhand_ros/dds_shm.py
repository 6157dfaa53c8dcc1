"""Fast DDS shared memory left behind by processes that died, removed with Fast DDS's own tool.

Every Fast DDS participant maps a segment in /dev/shm (about 35 MB with config/fastdds.xml) and
holds a file lock beside it while it lives. A process that dies without closing its participant
(SIGKILL, an abort) leaves both; nothing reuses them, and on a Docker host's 64 MB /dev/shm one
leftover is enough to leave no room for the next process. `fastdds shm clean` (shipped with
Fast DDS: the PyPI wheels and every ROS 2 install) removes exactly the segments and ports whose
lock nobody holds. The launch files run it once before starting their nodes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CLEAN_TIMEOUT_S = 30.0
_CLEANED = re.compile(r'(\d+) zombie (segments|ports) cleaned')


@dataclass(frozen=True)
class ShmCleanReport:
    """What `fastdds shm clean` removed: files of dead processes, counted per kind."""

    segments: int
    ports: int

    def describe(self) -> str:
        return (f'removed {self.segments} Fast DDS shared-memory segment(s) and {self.ports} '
                'port(s) left in /dev/shm by processes that died (fastdds shm clean)')


def fastdds_tool() -> list[str] | None:
    """The command that runs `fastdds`: its Python script with this interpreter where the
    script sits beside the wrapper (the wrapper runs whatever `python3` is first on PATH, which
    may lack the tool's imports), else the wrapper itself; None where Fast DDS has no tool."""
    search = f'{Path(sys.executable).parent}:{os.environ.get("PATH", "")}'
    wrapper = shutil.which('fastdds', path=search)
    if wrapper is None:
        return None
    script = Path(wrapper).resolve().parent.parent / 'tools' / 'fastdds' / 'fastdds.py'
    return [sys.executable, str(script)] if script.is_file() else [wrapper]


def clean_dead_segments() -> ShmCleanReport:
    """Runs `fastdds shm clean`; raises RuntimeError with the reason when it cannot."""
    tool = fastdds_tool()
    if tool is None:
        raise RuntimeError('the fastdds tool is not on PATH: cannot remove shared memory of '
                           'dead processes (see docs/node.md "Shared memory")')
    try:
        done = subprocess.run([*tool, 'shm', 'clean'], capture_output=True, text=True,
                              timeout=CLEAN_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f'fastdds shm clean failed: {error}') from error
    counts = {kind: int(number) for number, kind in _CLEANED.findall(done.stdout)}
    if done.returncode != 0 or len(counts) != 2:
        raise RuntimeError(f'fastdds shm clean failed (exit {done.returncode}): '
                           f'{(done.stdout + done.stderr).strip()[-300:]}')
    return ShmCleanReport(segments=counts['segments'], ports=counts['ports'])
