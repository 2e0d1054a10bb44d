"""Fixtures for data tests that need no database: a scratch lake under a temp home."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from easyquant.config import Settings, load_settings


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", database_url="postgresql://nobody@127.0.0.1:1/x")


def snapshot(root: Path) -> dict[str, str]:
    """Return {relative path: sha256} of every file under ``root``."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def snap():
    """The :func:`snapshot` function, as a fixture (test folders are not packages)."""
    return snapshot
