"""On-disk cache of converted / quantized models, one folder per key.

A key names everything the files depend on (checkpoint hash, runtime and its version,
precision, the parts' version, decoding options), so a new checkpoint or runtime version gets a
new entry instead of a stale one. Each entry holds a manifest with its key and the SHA-256 of
every file; an entry whose manifest, key or file hashes do not match is not trusted (it is
rebuilt). Entries are written in a temporary folder and moved into place with os.replace, so a
crash or a concurrent writer never leaves a half-written entry under the final name.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

MANIFEST = 'manifest.json'
_CHUNK = 1 << 20
# Says when a model is converted (a slow first start) or reused, and where it lies; the factory
# forwards these records to the node's log while it builds an estimator.
log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """$INTERHAND_MODEL_CACHE, else $XDG_CACHE_HOME/interhand_ros/models (~/.cache/...)."""
    explicit = os.environ.get('INTERHAND_MODEL_CACHE')
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'interhand_ros' / 'models'


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def key_digest(key: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()


class ModelCache:
    """Folders of model files under `root`, looked up by key (a JSON-able mapping)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_cache_dir()

    def entry_dir(self, key: Mapping[str, object]) -> Path:
        label = '-'.join(str(key[name]) for name in ('runtime', 'precision') if name in key)
        return self.root / f'{label}-{key_digest(key)[:16]}'

    def load(self, key: Mapping[str, object]) -> Path | None:
        """The entry's folder when it exists and every file matches its manifest, else None."""
        folder = self.entry_dir(key)
        if not folder.exists():
            return None
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            trusted = manifest.get('key') == dict(key) and bool(manifest.get('files')) and all(
                file_sha256(folder / name) == digest for name, digest in manifest['files'].items())
        except (OSError, ValueError, AttributeError, TypeError):
            trusted = False
        if not trusted:
            log.warning('the cached model in %s is corrupt or from another version: not used',
                        folder)
            return None
        log.info('reusing the cached model in %s', folder)
        return folder

    def mismatches(self, key: Mapping[str, object]) -> str:
        """Why no entry serves `key`, for an error message: each entry of the same runtime and
        precision and the key fields in which it differs (a cache copied from a machine with
        another checkpoint or runtime version), or '' when the cache holds none."""
        found = []
        for manifest in sorted(self.root.glob(f'*/{MANIFEST}')):
            try:
                other = json.loads(manifest.read_text())['key']
                same_kind = all(other.get(name) == key.get(name)
                                for name in ('runtime', 'precision'))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if same_kind:
                differs = [f'{name} {_short(other.get(name))} where this needs {_short(wanted)}'
                           for name, wanted in key.items() if other.get(name) != wanted]
                found.append(f'{manifest.parent.name} ('
                             + ('; '.join(differs) or 'files not matching its manifest') + ')')
        return f' (it holds {", ".join(found)})' if found else ''

    def store(self, key: Mapping[str, object], write: Callable[[Path], None]) -> Path:
        """Run write(folder) in a fresh temporary folder, then publish it as the key's entry."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.entry_dir(key)
        building = Path(tempfile.mkdtemp(prefix='.building-', dir=self.root))
        log.info('converting the model for %s (once per checkpoint and runtime version; about '
                 '20 s on a 2-core CPU), cached in %s', final.name, final)
        started = time.monotonic()
        try:
            write(building)
            files = {path.name: file_sha256(path) for path in sorted(building.iterdir())
                     if path.is_file()}
            manifest = {'key': dict(key), 'files': files}
            (building / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if final.exists():  # untrusted (corrupt or stale): move aside, then replace
                discarded = Path(tempfile.mkdtemp(prefix='.discarded-', dir=self.root))
                os.replace(final, discarded / 'entry')
                shutil.rmtree(discarded, ignore_errors=True)
            os.replace(building, final)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        log.info('converted in %.0f s: %s', time.monotonic() - started, final)
        return final

    def load_or_build(self, key: Mapping[str, object], write: Callable[[Path], None]) -> Path:
        return self.load(key) or self.store(key, write)


def _short(value: object) -> str:
    """A key value for a message: SHA-256 digests cut to their first 12 hex digits."""
    if isinstance(value, str) and re.fullmatch('[0-9a-f]{64}', value):
        return f"'{value[:12]}...'"
    return repr(value)
