"""Runs a script or module as in the runtime-only install (requirements-runtime.txt): the
packages that install leaves out cannot be imported (a helper, not a test file).

    python test/runtime_only.py (-m MODULE | SCRIPT) [ARGS...]

A sys.meta_path finder placed first refuses every package of REFUSED (and their submodules) with
ModuleNotFoundError, as an absent package would be; nothing is faked or shadowed, so any import
of them on the path under test fails loudly. What this proves: the code run here never imports
those packages. What it does not: that the pinned runtime wheels install on their own (the
pip resolution of requirements-runtime.txt is what docs/runtime_install.md describes).
"""
from __future__ import annotations

import importlib.abc
import runpy
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# requirements.txt packages absent from requirements-runtime.txt that a node could import
REFUSED = ('torch', 'nncf', 'onnx', 'onnxscript', 'scipy', 'sklearn', 'rosbags',
           'dex_retargeting', 'training')


class RefuseImports(importlib.abc.MetaPathFinder):
    """Refuses the named top-level packages and everything under them."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname.split('.')[0] in self.names:
            raise ModuleNotFoundError(
                f'No module named {fullname!r} (not in the runtime-only install)', name=fullname)
        return None


def main(argv: list[str]) -> None:
    sys.meta_path.insert(0, RefuseImports(REFUSED))
    if argv[:1] == ['-m']:
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name='__main__', alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name='__main__')


if __name__ == '__main__':
    main(sys.argv[1:])
