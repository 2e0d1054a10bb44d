"""Strategy import paths: only modules under EASYQUANT_STRATEGY_MODULES are ever imported."""

from __future__ import annotations

import sys
import textwrap

import pytest

from easyquant.backtest.request import BacktestRequest
from easyquant.config import get_settings
from easyquant.errors import ConfigError
from easyquant.strategy.registry import load_strategy

STRATEGY = """
from easyquant.strategy import Strategy

class Mine(Strategy):
    name = "mine"
    def decide(self, bars):
        return {}
"""


@pytest.fixture()
def default_settings(tmp_path, monkeypatch):
    """The default allowlist, with a 'strategies' folder and a module that must never load."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "__init__.py").write_text("")
    (tmp_path / "strategies" / "mine.py").write_text(textwrap.dedent(STRATEGY))
    marker = tmp_path / "imported"
    (tmp_path / "side_effect.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("EASYQUANT_STRATEGY_MODULES", raising=False)
    get_settings.cache_clear()
    yield marker
    for name in ("strategies", "strategies.mine", "side_effect"):
        sys.modules.pop(name, None)
    get_settings.cache_clear()


def test_a_module_outside_the_allowlist_is_never_imported(default_settings):
    marker = default_settings
    for spec in ("side_effect:Anything", "os:system", "easyquant.cli:main"):
        with pytest.raises(ConfigError, match="not under an allowed prefix"):
            load_strategy(spec)
    assert not marker.exists()
    with pytest.raises(ConfigError, match=r"^strategy: .*side_effect.*not under an allowed"):
        BacktestRequest.parse({"strategy": "side_effect:X", "symbols": ["AAA"]})
    assert not marker.exists()


def test_builtins_and_the_strategies_folder_load(default_settings):
    assert load_strategy("sma_cross").name == "sma_cross"
    assert load_strategy("easyquant.strategy.builtins:SmaCross").name == "sma_cross"
    assert load_strategy("strategies.mine:Mine").name == "mine"
    # a look-alike prefix is not inside the allowed package
    with pytest.raises(ConfigError, match="not under an allowed prefix"):
        load_strategy("strategiesx.mine:Mine")


def test_the_setting_widens_the_allowlist(default_settings, monkeypatch):
    monkeypatch.setenv("EASYQUANT_STRATEGY_MODULES", "easyquant.strategy, side_effect")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="has no attribute 'Anything'"):
        load_strategy("side_effect:Anything")
    assert default_settings.exists()
