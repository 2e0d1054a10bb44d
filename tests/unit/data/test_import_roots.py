"""The ETL DAG's ``path`` Param: only files in the import folders, and an error about a file
that is no data file never quotes what is in it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from easyquant.config import get_settings
from easyquant.data.frequency import parse_freq
from easyquant.data.pipeline import request_from_dag
from easyquant.data.sources import make_source
from easyquant.errors import ConfigError, DataError

SECRET = "root:x:0:0:TOP-SECRET-MARK:/root:/bin/bash"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A home with an import folder holding one good CSV, and a secret file outside it."""
    monkeypatch.setenv("EASYQUANT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EASYQUANT_IMPORT_ROOTS", raising=False)
    get_settings.cache_clear()
    imports = tmp_path / "home" / "import"
    imports.mkdir(parents=True)
    (imports / "AAA.csv").write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    secret = tmp_path / "passwd"
    secret.write_text(SECRET + "\n" + SECRET + "\n")
    yield imports, secret
    get_settings.cache_clear()


def dag_ctx(path: str) -> dict:
    params = {
        "source": "csv",
        "path": path,
        "symbols": ["AAA"],
        "calendar": "XNYS",
        "start": "2024-01-01",
        "end": "2024-01-31",
    }
    return {"params": params, "dag_run": SimpleNamespace(run_type="manual")}


def test_a_path_outside_the_import_folders_is_refused(home):
    imports, secret = home
    for path in (str(secret), "/etc/passwd", str(imports / ".." / ".." / "passwd")):
        with pytest.raises(ConfigError, match=r"^path: .* is outside the import folders") as e:
            request_from_dag(dag_ctx(path))
        assert "TOP-SECRET" not in str(e.value)
    (imports / "link.csv").symlink_to(secret)
    with pytest.raises(ConfigError, match="outside the import folders"):
        request_from_dag(dag_ctx(str(imports / "link.csv")))


def test_a_file_in_the_import_folder_is_taken(home):
    imports, _ = home
    req = request_from_dag(dag_ctx(str(imports / "AAA.csv")))
    assert req["path"] == str((imports / "AAA.csv").resolve())


def test_the_setting_names_other_folders(home, tmp_path, monkeypatch):
    _, secret = home
    monkeypatch.setenv("EASYQUANT_IMPORT_ROOTS", f"{tmp_path / 'elsewhere'}, {tmp_path}")
    get_settings.cache_clear()
    assert request_from_dag(dag_ctx(str(secret)))["path"] == str(secret)


@pytest.mark.parametrize("fmt", [None, "yahoo"])
def test_a_file_that_is_no_data_file_is_never_quoted(home, fmt):
    imports, _ = home
    bad = imports / "keys.csv"
    bad.write_text(SECRET + "\n" + SECRET + "\n")
    with pytest.raises(DataError) as e:
        list(make_source("csv", path=str(bad), format=fmt).batches(parse_freq("1d")))
    message = str(e.value)
    assert message.startswith(f"{bad}: line 1")
    rest = message.replace(str(bad), "")
    assert "TOP-SECRET" not in rest and "root" not in rest and "bash" not in rest
