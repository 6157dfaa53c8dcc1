"""The set-up entry points fail loudly and work from any directory (nothing is installed here)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Set by an enclosing `make test`; they would change what the inner make prints.
MAKE_VARS = ('VENV', 'MAKEFLAGS', 'MAKELEVEL', 'MFLAGS')


def test_setup_script_stops_with_the_reason_when_python_is_unusable(tmp_path):
    missing_python = tmp_path / 'no' / 'python3.11'
    result = subprocess.run(['bash', str(REPO / 'scripts' / 'setup_venv.sh')], cwd=tmp_path,
                            env={'PATH': '/usr/bin:/bin', 'PYTHON': str(missing_python),
                                 'VENV': str(tmp_path / 'venv')},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert '[setup] ERROR' in result.stderr and str(missing_python) in result.stderr
    assert not (tmp_path / 'venv' / '.interhand_stamps').exists()


@pytest.mark.skipif(shutil.which('make') is None, reason='make is not installed')
@pytest.mark.parametrize('target, command', [('test', '-m pytest -q -rs test'),
                                             ('demo', '-m tools.demo --max-frames 2')])
def test_make_targets_run_in_the_repository_from_any_directory(tmp_path, target, command):
    """`make -n` prints the recipe without running it: paths must be the repository's."""
    result = subprocess.run(['make', '-n', '-f', str(REPO / 'Makefile'), target,
                             'ARGS=--max-frames 2'], cwd=tmp_path, capture_output=True,
                            env={k: v for k, v in os.environ.items() if k not in MAKE_VARS},
                            text=True, timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == f'bash "{REPO}/scripts/setup_venv.sh"'
    assert lines[-1].startswith(f'cd "{REPO}" && "{REPO}/.venv/bin/python" ')
    assert lines[-1].endswith(command)
