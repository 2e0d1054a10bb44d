"""Lake.sweep removes only files whose owner has ended, whichever PID namespace owns them."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from easyquant.data.lake import LAKE_SCHEMA, TMP_PREFIX, Lake

HOLDER = """
import sys
from easyquant.data.ingest import new_ingest_id
from easyquant.data.lake import LAKE_SCHEMA, Lake

lake = Lake(sys.argv[1])
pending = lake.prepare("1d", "AAA", LAKE_SCHEMA.empty_table())
staging = lake.staging_dir(new_ingest_id())
staging.mkdir(parents=True)
print(pending.tmp, staging, flush=True)
sys.stdin.read()  # hold the files until the test lets go
"""


def _dead_pid() -> int:
    """A pid that no process on this host has now (so a pid check calls its owner dead)."""
    for pid in range(1000, 30000, 7):
        if not Path(f"/proc/{pid}").exists():
            return pid
    raise AssertionError("no free pid found")


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="unshare needs root")
def test_sweep_keeps_the_files_of_a_live_worker_in_another_pid_namespace(tmp_path):
    lake_root = tmp_path / "lake"
    pid = _dead_pid()  # the worker's pid inside its namespace is one that is free out here
    holder = subprocess.Popen(
        [
            "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
            "sh", "-c", f'echo {pid - 1} > /proc/sys/kernel/ns_last_pid; "$0" "$@"; exit $?',
            sys.executable, "-c", HOLDER, str(lake_root),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdin is not None
        tmp, staging = (Path(p) for p in holder.stdout.readline().split())
        assert tmp.exists() and staging.is_dir(), "the worker did not start"
        assert Lake(lake_root).sweep() == 0
        assert tmp.exists() and staging.is_dir()
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(30)


def _prepare_and_die(root: str) -> None:
    lake = Lake(root)
    lake.prepare("1d", "AAA", LAKE_SCHEMA.empty_table())
    lake.staging_dir("crashed").mkdir(parents=True)
    os._exit(1)  # a crash: no cleanup


def test_sweep_removes_what_an_ended_owner_left_and_old_files_of_unknown_owners(tmp_path):
    lake = Lake(tmp_path / "lake", foreign_max_age=3600)
    proc = multiprocessing.get_context("fork").Process(target=_prepare_and_die, args=(lake.root,))
    proc.start()
    proc.join(30)
    folder = lake.path("1d", "AAA").parent
    assert len(list(folder.glob(f"{TMP_PREFIX}*"))) == 1
    # files of another host or container: judged by the time of their last write
    fresh = folder / f"{TMP_PREFIX}0123456789ab.42.17-deadbeef"
    old = folder / f"{TMP_PREFIX}0123456789ab.43.17-cafef00d"
    legacy = lake.root / ".staging" / "20240101T000000-12345"  # a name without an owner
    for p in (fresh, old):
        p.write_bytes(b"x")
    legacy.mkdir(parents=True)
    (legacy / "000000.arrow").write_bytes(b"x")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    for p in (legacy, legacy / "000000.arrow"):
        os.utime(p, (hours_ago, hours_ago))
    mine = lake.staging_dir("running")
    mine.mkdir(parents=True)

    assert lake.sweep() == 4  # the crashed one's temp file and staging, old, legacy
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name]
    assert [p.name for p in (lake.root / ".staging").iterdir()] == [mine.name]
