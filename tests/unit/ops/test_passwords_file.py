"""The Airflow passwords file is private from the moment it exists."""

from __future__ import annotations

import json
import os
import stat

import pytest

from easyquant.airflow_conf import write_passwords_file
from easyquant.config import load_settings


def test_passwords_file_is_created_private_not_chmodded_afterwards(tmp_path, monkeypatch):
    settings = load_settings(home=tmp_path / "home", airflow_password="s3cret-pw")
    chmods: list[object] = []
    # a chmod after creation would leave a window in which others can read the password:
    # with chmod disabled, only a file created 0600 ends up 0600
    monkeypatch.setattr(os, "chmod", lambda *a, **k: chmods.append(a))
    monkeypatch.setattr(os, "fchmod", lambda *a, **k: chmods.append(a))
    old = os.umask(0)
    try:
        path = write_passwords_file(settings)
        write_passwords_file(settings)  # rewriting an existing file keeps it private too
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"admin": "s3cret-pw"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["passwords.json"]
    assert chmods == []


def test_passwords_file_leaves_no_temp_file_when_the_write_fails(tmp_path, monkeypatch):
    settings = load_settings(home=tmp_path / "home")

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_passwords_file(settings)
    assert list((tmp_path / "home" / "airflow").iterdir()) == []
