"""Passwords in database URLs are masked wherever EasyQuant prints or logs them."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import pytest

from easyquant import redact
from easyquant.config import load_settings
from easyquant.stack import print_urls
from tests.conftest import REPO

SECRET = "hunter2-S3CRET"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://eq:{SECRET}@db:5432/easyquant", "postgresql://eq:***@db:5432/easyquant"),
        ("postgresql://eq@db/easyquant", "postgresql://eq@db/easyquant"),
        (
            f"postgres://eq:{SECRET}@[::1]:5/x?sslmode=require",
            "postgres://eq:***@[::1]:5/x?sslmode=require",
        ),
    ],
)
def test_redact_url(url, shown):
    assert redact.redact_url(url) == shown


def test_redact_text_masks_every_url_in_a_message():
    text = f"failed: postgresql+psycopg2://eq:{SECRET}@pg/airflow and redis://:{SECRET}@r:6379/0"
    masked = redact.redact_text(text)
    assert SECRET not in masked
    assert "postgresql+psycopg2://eq:***@pg/airflow" in masked and "redis://:***@r:6379/0" in masked


def test_the_printed_urls_hide_the_password(tmp_path):
    settings = load_settings(home=tmp_path, database_url=f"postgresql://eq:{SECRET}@db:5432/eq")
    lines: list[str] = []
    print_urls(settings, say=lines.append)
    assert any("postgresql://eq:***@db:5432/eq" in line for line in lines), lines
    assert not [line for line in lines if SECRET in line]
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_logged_urls_hide_the_password():
    stream = io.StringIO()
    logger = logging.getLogger("redact-probe")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        redact.install(logger)
        logger.warning("cannot reach %s", f"postgresql://eq:{SECRET}@db/eq")
    finally:
        logger.removeHandler(handler)
    assert SECRET not in stream.getvalue() and "eq:***@db" in stream.getvalue()


def test_db_migrate_prints_the_url_without_its_password(pg_settings):
    url = pg_settings.database_url or ""
    with_password = url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")
    assert SECRET in with_password  # the test server trusts local users: any password works
    env = {k: v for k, v in os.environ.items() if not k.startswith("EASYQUANT_")}
    env |= {
        "EASYQUANT_HOME": str(pg_settings.home),
        "EASYQUANT_DATABASE_URL": with_password,
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "easyquant.cli", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "database ready: postgresql://postgres:***@" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
