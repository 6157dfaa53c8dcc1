"""Runs a script or module as in the runtime-only install (requirements-runtime.txt): the
packages that install leaves out cannot be imported (a helper, not a test file).

    python test/runtime_only.py (-m MODULE | SCRIPT) [ARGS...]

The path finder (the one that finds installed packages on sys.path) is wrapped so that it does
not find the packages of REFUSED (nor anything under them), as if they were not installed:
`import torch` raises ModuleNotFoundError and importlib.util.find_spec('torch') is None. Nothing
is faked or shadowed, so any import of them on the path under test fails loudly. What this
proves: the code run here never imports those packages. What it does not: that the pinned
runtime wheels install on their own (docs/runtime_install.md says how that was checked).
"""
from __future__ import annotations

import importlib.abc
import runpy
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

# requirements.txt packages absent from requirements-runtime.txt that a node could import
REFUSED = ('torch', 'nncf', 'onnx', 'onnxscript', 'scipy', 'sklearn', 'rosbags',
           'dex_retargeting', 'training')


class WithoutPackages(importlib.abc.MetaPathFinder):
    """The path finder, blind to the named top-level packages and everything under them."""

    def __init__(self, finder: Any, names: Sequence[str]) -> None:
        self.finder = finder
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname.split('.')[0] in self.names:
            return None
        spec: ModuleSpec | None = self.finder.find_spec(fullname, path, target)
        return spec

    def invalidate_caches(self) -> None:
        self.finder.invalidate_caches()

    def find_distributions(self, *args: Any, **kwargs: Any) -> Any:
        return self.finder.find_distributions(*args, **kwargs)


def main(argv: list[str]) -> None:
    position = sys.meta_path.index(PathFinder)
    sys.meta_path[position] = WithoutPackages(PathFinder, REFUSED)
    if argv[:1] == ['-m']:
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name='__main__', alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name='__main__')


if __name__ == '__main__':
    main(sys.argv[1:])
