"""Split and dividend adjustment of raw prices (raw prices stay in the lake untouched).

An action on ``ex_date`` with ``split_ratio`` s (new shares per old share) and cash
``dividend`` d per old share gives the factor ``(P - d) / (s * P)``, with P the last close
before ``ex_date``: the price a holder's position would have been worth had the action
applied earlier. ``forward`` scales every bar before each ex-date by its factor, so the
latest prices equal the raw ones; ``backward`` divides every bar from each ex-date on, so the
earliest prices equal the raw ones. Volumes scale inversely to splits only.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from easyquant.errors import ConfigError, DataError

ADJUSTMENTS = ("forward", "backward")
PRICE_COLUMNS = ("open", "high", "low", "close")
LIMIT_COLUMNS = ("limit_up", "limit_down")  # published limit prices: scaled like prices


def read_actions(path: str | Path) -> pd.DataFrame:
    """Read a corporate-actions CSV: symbol, ex_date, split_ratio (default 1), dividend (0)."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"symbol": str})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read corporate actions: {exc}") from None
    for col in ("symbol", "ex_date"):
        if col not in df.columns:
            raise DataError(f"{path}: line 1, field {col!r}: missing column")
    if "split_ratio" not in df.columns:
        df["split_ratio"] = 1.0
    if "dividend" not in df.columns:
        df["dividend"] = 0.0
    df["split_ratio"] = df["split_ratio"].fillna(1.0)
    df["dividend"] = df["dividend"].fillna(0.0)
    for col, test in (("split_ratio", lambda s: s > 0), ("dividend", lambda s: s >= 0)):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = ~(values.notna() & test(values))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{path}: line {i + 2}, field {col!r}: invalid value {df[col].iloc[i]!r}"
            )
        df[col] = values.astype("float64")
    dates = pd.to_datetime(df["ex_date"], errors="coerce")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(
            f"{path}: line {i + 2}, field 'ex_date': unparseable date {df['ex_date'].iloc[i]!r}"
        )
    df["ex_date"] = dates.dt.normalize()
    return df[["symbol", "ex_date", "split_ratio", "dividend"]]


def factors(bars: pd.DataFrame, actions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return (price_factor, split_factor) per bar for forward adjustment."""
    ts = cast(pd.DatetimeIndex, bars.index)
    price = np.ones(len(bars))
    split = np.ones(len(bars))
    if actions.empty or bars.empty:
        return price, split
    days = ts.tz_convert("UTC").tz_localize(None).normalize() if ts.tz else ts.normalize()
    close = bars["close"].to_numpy()
    for act in actions.sort_values("ex_date").to_dict(orient="records"):
        ex = pd.Timestamp(act["ex_date"]).tz_localize(None).normalize()
        before = np.asarray(days < ex)
        if not before.any():
            continue
        p = close[np.flatnonzero(before)[-1]]
        s, d = float(act["split_ratio"]), float(act["dividend"])
        if d >= p:
            raise DataError(
                f"corporate action {act['symbol']} {ex.date()}: dividend {d} is not "
                f"below the previous close {p}"
            )
        price[before] *= (p - d) / (s * p)
        split[before] *= 1.0 / s
    return price, split


def adjust(bars: pd.DataFrame, actions: pd.DataFrame, how: str) -> pd.DataFrame:
    """Return a copy of ``bars`` adjusted ``forward`` or ``backward`` by ``actions``."""
    if how not in ADJUSTMENTS:
        raise ConfigError(f"adjust: expected one of {ADJUSTMENTS} or None, got {how!r}")
    price, split = factors(bars, actions)
    if how == "backward" and len(price):
        price, split = price / price[0], split / split[0]
    out = bars.copy()
    for col in (*PRICE_COLUMNS, *(c for c in LIMIT_COLUMNS if c in out.columns)):
        out[col] = out[col].to_numpy() * price
    out["volume"] = out["volume"].to_numpy() / split
    return out
