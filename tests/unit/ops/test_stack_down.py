"""make down without a supervisor (one that was killed): it stops, by pid file, the demo
session, the spec's extra processes and the services, leaves no pid file behind and says
what it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from easyquant import stack
from easyquant.config import load_settings
from easyquant.supervise import SPEC


def test_down_stops_each_process_group_by_its_pid_file(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path / "home", database_url="postgresql://u@db:5432/eq")
    s.run_dir.mkdir(parents=True, exist_ok=True)
    (s.run_dir / SPEC).write_text(
        json.dumps({"serial": 1, "children": [{"name": "redis", "argv": ["x"]}]})
    )
    names = [stack.LIVE_DEMO, "redis", stack.MONITOR.name]
    procs = {name: subprocess.Popen(["sleep", "60"], start_new_session=True) for name in names}
    try:
        for name, proc in procs.items():
            (s.run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
        (s.run_dir / f"{stack.SUPERVISOR}.pid").write_text("999999999\n")  # not running
        said: list[str] = []
        assert stack.down(s, said.append) == 0
        for proc in procs.values():
            assert proc.wait(timeout=30) == -signal.SIGTERM
        assert said == [
            f"stopping the demo live session (process group {procs[stack.LIVE_DEMO].pid})",
            f"stopping redis (process group {procs['redis'].pid})",
            f"stopping monitor_api (process group {procs[stack.MONITOR.name].pid})",
            "EasyQuant is stopped.",
        ]
        assert list(s.run_dir.glob("*.pid")) == []
        said.clear()
        stack.down(s, said.append)
        assert said == ["Nothing to stop."]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
