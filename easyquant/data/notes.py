"""What an ingest notes per symbol beside the counts: spellings mapped to the stored one, the
source's layout and unit conversions, rows that are not bars, derived corporate actions, and
ranges that were stored already."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from easyquant.data.batch import Batch, Span
from easyquant.data.symbols import canonical
from easyquant.errors import ConfigError, DataError

if TYPE_CHECKING:
    from easyquant.data.ingest import IngestResult, SymbolReport


def canonical_codes(
    batch: Batch, table: pa.Table, codes: np.ndarray, names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Map a batch's symbol spellings to the stored ones (two spellings may become one)."""
    canon = []
    for i, name in enumerate(names):
        try:
            canon.append(canonical(name))
        except ConfigError as exc:
            row = int(np.flatnonzero(codes == i)[0])
            line = int(table.column("line")[row].as_py())
            raise DataError(
                f"{batch.origin}: {batch.line_word} {line}, field "
                f"{batch.field_name('symbol')!r}: {exc}"
            ) from None
    if canon == names:
        return codes, names
    uniq = list(dict.fromkeys(canon))
    remap = np.array([uniq.index(c) for c in canon], dtype=np.int32)
    return remap[codes], uniq


def note_batch(rep: SymbolReport, batch: Batch) -> None:
    """Copy what the source did (layout, units converted, rows not bars) into the report."""
    notes = batch.notes
    if not notes:
        return
    rep.warnings["layout"] = notes.get("layout")
    if notes.get("units"):
        rep.warnings["units_converted"] = notes["units"]
    dropped = {canonical(k): v for k, v in notes.get("not_bars", {}).items()}
    if rep.symbol in dropped:
        rep.warnings["not_bars"] = dropped[rep.symbol]


def collect_actions(notes: dict[int, dict[str, Any]]) -> Any:
    """Corporate actions the source derived (e.g. from adjusted prices), symbols canonical."""
    frames = [n["actions"] for n in notes.values() if n.get("actions") is not None]
    frames = [f for f in frames if len(f)]
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    out["symbol"] = [canonical(s) for s in out["symbol"]]
    return out.drop_duplicates(["symbol", "ex_date"], keep="last").reset_index(drop=True)


def note_stored(
    result: IngestResult,
    wanted: list[str] | None,
    stored: dict[str, Span],
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
) -> None:
    """Say, per symbol, when the request asked only for bars that are stored already."""
    from easyquant.data.ingest import SymbolReport

    for sym in wanted or []:
        rep = result.symbols.get(sym)
        span = stored.get(sym)
        if span is None or (rep is not None and rep.rows_read > rep.rows_skipped):
            continue
        rep = result.symbols.setdefault(sym, SymbolReport(sym))
        first = pd.Timestamp(span[0]).date().isoformat()
        last = pd.Timestamp(span[1]).date().isoformat()
        asked = (
            f"{lo.date() if lo is not None else '...'} to {hi.date() if hi is not None else '...'}"
        )
        rep.warnings["already_stored"] = f"requested {asked}; stored {first} to {last}"
