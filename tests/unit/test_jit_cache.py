"""Numba's on-disk cache is keyed by the compiled packages' source: a compiled function whose
callee in another file changed runs the new callee, in a fresh process, with no stale machine
code (numba alone keys a cached function on its own file's time stamp and size)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from easyquant import _jit
from tests.conftest import REPO

CALLER = """
from numba import njit
from {pkg}.callee import rate

@njit(cache=True)
def fee(value):
    return value * rate()
"""
CALLEE = """
from numba import njit

@njit(cache=True)
def rate():
    return {rate}
"""


def make_package(root: Path, pkg: str, keyed: bool) -> Path:
    folder = root / pkg
    folder.mkdir()
    init = (
        "from pathlib import Path\nfrom easyquant._jit import use_keyed_cache\n"
        f"use_keyed_cache([Path({str(folder)!r})])\n"
    )
    (folder / "__init__.py").write_text(init if keyed else "")
    (folder / "caller.py").write_text(CALLER.format(pkg=pkg))
    (folder / "callee.py").write_text(CALLEE.format(rate="0.001"))
    return folder


def fee(root: Path, pkg: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(REPO)])
    out = subprocess.run(
        [sys.executable, "-c", f"from {pkg}.caller import fee; print(fee(1000.0))"],
        env=env, cwd=root, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return float(out.stdout.strip())


def change_rate(folder: Path) -> None:
    """The callee's rate goes from 0.001 to 0.002: same size, and the caller's file untouched."""
    path = folder / "callee.py"
    stat = path.stat()
    path.write_text(CALLEE.format(rate="0.002"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("keyed", [False, True], ids=["numba-alone", "keyed-by-source"])
def test_a_changed_callee_is_compiled_again_only_when_the_cache_is_keyed(
    tmp_path: Path, keyed: bool
) -> None:
    pkg = f"jitpkg_{int(keyed)}"
    folder = make_package(tmp_path, pkg, keyed)
    assert fee(tmp_path, pkg) == pytest.approx(1.0)
    change_rate(folder)
    # numba alone keeps the first machine code (the stale fee); keyed by source, the new rate
    assert fee(tmp_path, pkg) == pytest.approx(2.0 if keyed else 1.0)


def test_the_fingerprint_follows_contents_not_times(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    first = _jit.fingerprint([tmp_path])
    os.utime(tmp_path / "a.py", (0, 0))
    assert _jit.fingerprint([tmp_path]) == first
    (tmp_path / "a.py").write_text("x = 2\n")
    assert _jit.fingerprint([tmp_path]) != first
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("")
    assert _jit.fingerprint([tmp_path]) != first


def test_the_compiled_packages_cache_under_their_source_hash() -> None:
    """The kernel, the execution rules and the indicators all cache in the one keyed folder."""
    code = (
        "import numba.core.config as c; from easyquant.backtest import kernel;"
        "from easyquant.execution import rules; from easyquant.strategy import indicators;"
        "print(c.CACHE_DIR);"
        "[print(f._cache._cache_path) for f in (kernel.simulate_into, rules.try_fill,"
        " indicators._sma1)]"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    want = REPO / "easyquant" / "__pycache__" / "numba" / _jit.fingerprint(_jit.COMPILED)
    assert Path(out[0]) == want
    assert all(Path(p).is_relative_to(want) for p in out[1:]), out


def test_earlier_hashes_are_dropped_once_unused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from numba.core import config

    monkeypatch.setattr(config, "CACHE_DIR", config.CACHE_DIR)  # this process's, restored after
    old, recent = tmp_path / ("0" * 16), tmp_path / ("1" * 16)
    for folder in (old, recent):
        folder.mkdir()
        (folder / "f.nbi").write_text("")
    os.utime(old, (0, 0))
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text("")
    target = _jit.use_keyed_cache([src], base=tmp_path)
    assert target.parent == tmp_path and not old.exists() and recent.exists()
