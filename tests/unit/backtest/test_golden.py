"""Golden numbers: the textbook ``sma_cross`` on the GOOG (daily) and EURUSD (hourly) bars that
backtesting.py ships, $10,000, 0.2% commission, whole shares, next-open fills.

The trades equal backtesting.py's, backtrader's and vectorbt's own crossover examples (see
test_agreement); these figures pin our metrics on top of them. A change to any of them is a
change in results and must be explained, not re-recorded in passing.
"""

from __future__ import annotations

import pytest
from backtesting.test import EURUSD, GOOG

from .test_agreement import CASH, COMMISSION, run_easyquant, shipped

# data, fast, slow: final equity, closed trades, open at the end, Sharpe, max drawdown
GOLDEN = {
    ("GOOG", 10, 20): (63341.19135999999, 46, True, 1.0814054944690017, -0.20017341143710388),
    ("GOOG", 10, 30): (50462.40614, 32, True, 0.963256506665556, -0.31187651231260816),
    ("EURUSD", 10, 20): (6373.289868900016, 131, False, -7.897472724513388, -0.3626710131099984),
    ("EURUSD", 10, 30): (7625.070973239986, 83, False, -4.988854112666969, -0.23956133403816826),
}
FRAMES = {"GOOG": GOOG, "EURUSD": EURUSD}


@pytest.mark.parametrize("key", sorted(GOLDEN), ids=lambda k: "-".join(map(str, k)))
def test_sma_cross_golden_numbers_on_shipped_data(key: tuple[str, int, int]) -> None:
    data, fast, slow = key
    equity, closed, left_open, sharpe, drawdown = GOLDEN[key]
    trades, final, res = run_easyquant(
        shipped(FRAMES[data]), fast, slow, cash=CASH, commission=COMMISSION
    )
    m = res.metrics
    assert final == pytest.approx(equity, rel=1e-12, abs=0)
    assert m["final_equity"] == pytest.approx(equity, rel=1e-12, abs=0)
    assert m["trades"] == closed
    assert (trades[-1][1] is None) is left_open
    assert m["sharpe"] == pytest.approx(sharpe, rel=1e-10, abs=0)
    assert m["max_drawdown"] == pytest.approx(drawdown, rel=1e-10, abs=0)
