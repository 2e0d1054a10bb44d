"""Numba's on-disk cache, keyed by the source of every compiled package.

Numba keys a cached function on the time stamp and size of its own file only. A compiled function
that calls compiled functions of other modules (the backtest kernel inlines the execution rules)
keeps its machine code when only a callee's file changes: after an update, a backtest would run
the old rules without a word. So the packages with compiled code import this module before they
define any: numba's cache goes to a folder named after a hash of their source, and
any change to it starts a fresh cache.

The folder is ``NUMBA_CACHE_DIR`` (when set) or the package's ``__pycache__/numba``, then the
hash. Folders of earlier hashes are removed once unused for a day. Importing this module keys
the cache for :data:`COMPILED`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: the packages whose compiled functions call one another's
COMPILED = tuple(ROOT / name for name in ("backtest", "execution", "strategy"))
STALE_AFTER = 86_400.0  # seconds an earlier hash's folder is kept

_keyed: dict[tuple[Path, ...], Path] = {}


def fingerprint(folders: Iterable[Path]) -> str:
    """Return a hash of every ``*.py`` file below ``folders`` (names and contents, not times)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def use_keyed_cache(folders: Iterable[Path] = COMPILED, base: Path | None = None) -> Path:
    """Point numba's on-disk cache at ``base/<hash of folders' source>``; return that folder.

    Call it before the first ``@njit(cache=True)`` of the folders' modules: numba picks a
    function's cache folder when the function is defined. Calls after the first return the same
    folder at once.
    """
    key = tuple(folders)
    if key in _keyed:
        return _keyed[key]
    from numba.core import config

    if base is None:
        base = Path(os.environ.get("NUMBA_CACHE_DIR") or ROOT / "__pycache__" / "numba")
    target = base / fingerprint(key)
    # numba falls back to its own places if this is not writable
    config.CACHE_DIR = str(target)  # type: ignore[attr-defined]
    _keyed[key] = target
    if not target.exists():
        _drop_stale(base, keep=target)
    return target


def _drop_stale(base: Path, keep: Path) -> None:
    """Remove the folders of earlier hashes under ``base`` unused for ``STALE_AFTER``."""
    try:
        earlier = [p for p in base.iterdir() if p.is_dir() and p != keep and len(p.name) == 16]
    except OSError:
        return
    now = time.time()
    for folder in earlier:
        try:
            if now - folder.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


use_keyed_cache()
