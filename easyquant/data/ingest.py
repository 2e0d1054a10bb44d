"""Ingest: stream a source, validate every row, stage per symbol, then publish to the lake.

Nothing reaches the lake or the catalog until the whole input has been read and checked: rows
are staged per symbol (Arrow IPC files under ``<lake>/.staging``), then merged with what is
stored (upsert by timestamp), written to temp files and renamed into place, and the catalog and
quality reports are written in one transaction. Under the ``reject`` policy (default) a single
bad row aborts the ingest with a DataError naming its origin, line and field; under
``quarantine`` bad rows go to ``<lake>/quarantine`` with their reasons and the good ones are kept.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from easyquant.config import Settings, get_settings
from easyquant.data import calendars, parse_time
from easyquant.data.batch import BATCH_SCHEMA, Batch, Source, Span, Want, check_symbol
from easyquant.data.frequency import NS_PER_DAY, Freq, parse_freq
from easyquant.data.lake import LIMITS_SCHEMA, Lake, Pending, conform, merge
from easyquant.data.notes import canonical_codes, collect_actions, note_batch, note_stored
from easyquant.data.symbols import calendar_of, canonical
from easyquant.data.validate import FIELDS, REASONS, SequenceState, check_batch
from easyquant.errors import ConfigError, DataError

POLICIES = ("reject", "quarantine")
MAX_SAMPLES = 20
Progress = Callable[[float, str, dict[str, Any]], None]
# test seam: called after each partition's temp file is written, before any rename
_after_prepare: Callable[[Pending], None] | None = None


@dataclass
class SymbolReport:
    """The quality report of one symbol in one ingest."""

    symbol: str
    rows_read: int = 0
    rows_skipped: int = 0
    rows_rejected: int = 0
    rows_stored: int = 0
    status: str = "unchanged"
    rejects: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    gaps: dict[str, Any] = field(default_factory=dict)
    warnings: dict[str, Any] = field(default_factory=dict)
    origin: str = ""


@dataclass
class IngestResult:
    """What an ingest did: per-symbol reports, totals and where the quarantine went."""

    ingest_id: str
    source: str
    freq: str
    calendar: str | None
    policy: str
    full: bool
    symbols: dict[str, SymbolReport]
    quarantine_path: str | None = None
    seconds: float = 0.0
    actions: Any = None  # corporate actions the source derived (a DataFrame), stored on publish

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "rows_skipped", "rows_rejected", "rows_stored")
        out = {k: sum(getattr(r, k) for r in self.symbols.values()) for k in keys}
        out["gaps"] = sum(int(r.gaps.get("missing_bars", 0)) for r in self.symbols.values())
        out["symbols"] = len(self.symbols)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingest_id": self.ingest_id,
            "source": self.source,
            "freq": self.freq,
            "calendar": self.calendar,
            "policy": self.policy,
            "full": self.full,
            "seconds": round(self.seconds, 3),
            "quarantine_path": self.quarantine_path,
            "totals": self.totals(),
            "symbols": {s: asdict(r) for s, r in sorted(self.symbols.items())},
        }


def new_ingest_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + f"-{os.getpid()}"


def _ts(value: str | pd.Timestamp | None, option: str) -> pd.Timestamp | None:
    """``value`` as a naive UTC timestamp (what the sources take), or None."""
    ts = parse_time(value, option)
    return None if ts is None else ts.tz_localize(None)


def ingest(
    source: Source,
    *,
    freq: str | Freq = "1d",
    symbols: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    calendar: str | None = None,
    full: bool = False,
    policy: str = "reject",
    jump_factor: float = 4.0,
    settings: Settings | None = None,
    record: bool = True,
    progress: Progress | None = None,
    ingest_id: str | None = None,
) -> IngestResult:
    """Load bars from ``source`` into the lake; return the per-symbol quality report.

    Incremental unless ``full``: only bars before the first or after the last stored one are
    kept (and asked of the source). Symbols are stored in their canonical spelling; with no
    calendar given, it follows from the symbols' exchange. ``record``
    writes the catalog and the quality reports to PostgreSQL.
    """
    settings = settings or get_settings()
    f = parse_freq(freq)
    if policy not in POLICIES:
        raise ConfigError(f"policy: expected one of {POLICIES}, got {policy!r}")
    if not jump_factor > 1:
        raise ConfigError(f"jump_factor: must be > 1, got {jump_factor}")
    wanted = [check_symbol(canonical(s)) for s in symbols] if symbols else None
    cal = calendars.calendar_name(calendar) if calendar else getattr(source, "calendar", None)
    if cal is None and wanted:
        cal = calendar_of(wanted)
    lo, hi = _ts(start, "start"), _ts(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"start/end: start {lo.date()} is after end {hi.date()}")
    lake = Lake(settings.lake_dir)
    lake.sweep()
    iid = ingest_id or new_ingest_id()
    result = IngestResult(iid, source.name, f.name, cal, policy, full, {})
    t0 = time.perf_counter()
    stored: dict[str, Span] = {}
    if not full:
        for sym in wanted or lake.symbols(f.name):
            span = lake.span(f.name, sym)
            if span is not None:
                stored[sym] = span
    staging = lake.staging_dir(iid)
    staging.mkdir(parents=True, exist_ok=True)
    try:
        staged = _stage(
            source, f, wanted, lo, hi, stored, policy, jump_factor, lake, staging, result, progress
        )
        where = getattr(source, "path", None)
        if wanted and where is not None:
            missing = [s for s in wanted if result.symbols.get(s, SymbolReport(s)).rows_read == 0]
            if missing:
                raise DataError(f"{where}: symbol {missing[0]!r} not found in the input")
        note_stored(result, wanted, stored, lo, hi)
        if result.actions is not None:
            for sym, n in result.actions["symbol"].value_counts().items():
                if sym in result.symbols:
                    result.symbols[sym].warnings["corporate_actions"] = int(n)
        if cal is None and staged:
            cal = calendar_of(sorted(staged))
            result.calendar = cal
        _publish(staged, f, cal, lake, result, settings, record, progress)
    except DataError as exc:
        result.seconds = time.perf_counter() - t0
        if record:
            _record_failure(settings, result, str(exc))
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.seconds = time.perf_counter() - t0
    return result


def _stage(
    source: Source,
    f: Freq,
    wanted: list[str] | None,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    stored: dict[str, Span],
    policy: str,
    jump_factor: float,
    lake: Lake,
    staging: Any,
    result: IngestResult,
    progress: Progress | None,
) -> dict[str, Any]:
    """Read, filter, check and stage every batch; return symbol -> staged IPC path."""
    writers: dict[str, pa.ipc.RecordBatchFileWriter] = {}
    paths: dict[str, Any] = {}
    state = SequenceState()
    quarantine: pq.ParquetWriter | None = None
    lo_ns = None if lo is None else int(lo.tz_localize("UTC").value)
    hi_ns = None if hi is None else int((hi.tz_localize("UTC") + pd.Timedelta(days=1)).value)
    wanted_set = set(wanted) if wanted else None
    seen_notes: dict[int, dict[str, Any]] = {}
    try:
        for batch in source.batches(f, Want(wanted, lo, hi, stored)):
            seen_notes[id(batch.notes)] = batch.notes
            table = batch.table
            if table.num_rows == 0:
                continue
            sym = table.column("symbol").combine_chunks()
            if isinstance(sym, pa.DictionaryArray):
                sym = sym.cast(pa.string())
            enc = sym.dictionary_encode()
            codes = enc.indices.fill_null(0).to_numpy().astype(np.int32)
            names = [s if s is not None else "" for s in enc.dictionary.to_pylist()]
            if not names:
                continue
            codes, names = canonical_codes(batch, table, codes, names)
            keep = np.ones(table.num_rows, dtype=bool)
            if wanted_set is not None:
                keep &= np.isin(codes, [i for i, s in enumerate(names) if s in wanted_set])
            ts = table.column("timestamp").cast(pa.int64()).fill_null(0).to_numpy()
            in_range = keep.copy()
            if lo_ns is not None:
                in_range &= ~((ts < lo_ns) & (ts != 0))
            if hi_ns is not None:
                in_range &= ts < hi_ns
            none = (np.iinfo(np.int64).max, np.iinfo(np.int64).min)
            first = np.array([stored.get(s, none)[0] for s in names], dtype=np.int64)
            last = np.array([stored.get(s, none)[1] for s in names], dtype=np.int64)
            fresh = in_range & ((ts < first[codes]) | (ts > last[codes]) | (ts == 0))
            counts_read = np.bincount(codes[keep], minlength=len(names))
            counts_skip = np.bincount(codes[keep & ~fresh], minlength=len(names))
            for i, s in enumerate(names):
                if counts_read[i]:
                    rep = result.symbols.setdefault(s, SymbolReport(s, origin=batch.origin))
                    rep.rows_read += int(counts_read[i])
                    rep.rows_skipped += int(counts_skip[i])
                    note_batch(rep, batch)
            if not fresh.all():
                idx = np.flatnonzero(fresh)
                table = table.take(pa.array(idx))
                codes = codes[idx]
                if table.num_rows == 0:
                    continue
            checked = check_batch(table, codes, names, state, jump_factor=jump_factor)
            bad = checked.bad
            if len(bad):
                lines = table.column("line").to_numpy()
                if policy == "reject":
                    first = bad[np.argmin(lines[bad])]
                    raise DataError(_bad_row_message(batch, table, checked, first, len(bad)))
                quarantine = _quarantine(
                    quarantine, lake, f, result, batch, table, checked, codes, names
                )
            for s, rows in checked.jumps.items():
                rep = result.symbols[s]
                rep.warnings["jumps"] = rep.warnings.get("jumps", 0) + len(rows)
                lines = table.column("line").to_numpy()
                rep.warnings.setdefault("jump_lines", []).extend(
                    int(x) for x in lines[rows][:MAX_SAMPLES]
                )
            if len(checked.good_order):
                good = table.take(pa.array(checked.good_order))
                for s, a, b in checked.segments:
                    part = conform(good.slice(a, b - a), limits=True)
                    w = writers.get(s)
                    if w is None:
                        paths[s] = staging / f"{len(paths):06d}.arrow"
                        w = writers[s] = pa.ipc.new_file(str(paths[s]), LIMITS_SCHEMA)
                    w.write_table(part)
                    result.symbols[s].rows_stored += b - a
            if progress is not None and batch.progress is not None:
                totals = result.totals()
                progress(
                    0.9 * batch.progress,
                    f"read {totals['rows_read']} rows",
                    {k: totals[k] for k in ("rows_read", "rows_rejected")},
                )
    finally:
        for w in writers.values():
            w.close()
        if quarantine is not None:
            quarantine.close()
    result.actions = collect_actions(seen_notes)
    return paths


def _bad_row_message(batch: Batch, table: pa.Table, checked: Any, i: int, count: int) -> str:
    fname = FIELDS[checked.field[i]]
    line = int(table.column("line")[i].as_py())
    value = table.column(fname)[i].as_py()
    if fname == "timestamp" and value is not None:
        value = pd.Timestamp(value).isoformat()
    more = f" ({count - 1} more bad rows in this block)" if count > 1 else ""
    return (
        f"{batch.origin}: {batch.line_word} {line}, field {batch.field_name(fname)!r}: "
        f"{REASONS[checked.reason[i]]} (value {value!r}){more}"
    )


def _quarantine(
    writer: pq.ParquetWriter | None,
    lake: Lake,
    f: Freq,
    result: IngestResult,
    batch: Batch,
    table: pa.Table,
    checked: Any,
    codes: np.ndarray,
    names: list[str],
) -> pq.ParquetWriter:
    bad = checked.bad
    rows = table.take(pa.array(bad)).select(BATCH_SCHEMA.names)
    reasons = [REASONS[r] for r in checked.reason[bad]]
    fields = [batch.field_name(FIELDS[x]) for x in checked.field[bad]]
    out = rows.append_column("origin", pa.array([batch.origin] * len(bad)))
    out = out.append_column("field", pa.array(fields)).append_column("reason", pa.array(reasons))
    path = lake.quarantine_path(f.name, result.ingest_id)
    if writer is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = pq.ParquetWriter(path, out.schema)
        result.quarantine_path = str(path)
    writer.write_table(out)
    lines = rows.column("line").to_numpy()
    for k, i in enumerate(bad):
        s = names[codes[i]]
        rep = result.symbols.setdefault(s, SymbolReport(s, origin=batch.origin))
        rep.rows_rejected += 1
        rep.rejects[reasons[k]] = rep.rejects.get(reasons[k], 0) + 1
        if len(rep.samples) < MAX_SAMPLES:
            rep.samples.append(
                {
                    "origin": batch.origin,
                    "line": int(lines[k]),
                    "field": fields[k],
                    "reason": reasons[k],
                }
            )
    return writer


def gap_report(
    calendar: str, f: Freq, ts_ns: np.ndarray, start_ns: int, end_ns: int
) -> dict[str, Any]:
    """Compare stored bar times in [start_ns, end_ns] with the bars ``calendar`` expects."""
    day = NS_PER_DAY
    try:
        grid, sess = calendars.bar_grid(
            calendar,
            f,
            pd.Timestamp(start_ns - start_ns % day),
            pd.Timestamp(end_ns - end_ns % day),
        )
    except ConfigError as exc:
        return {"error": str(exc)}
    inside = (grid >= start_ns) & (grid <= end_ns)
    grid, sess = grid[inside], sess[inside]
    present = ts_ns[(ts_ns >= start_ns) & (ts_ns <= end_ns)]
    pos = np.clip(np.searchsorted(present, grid), 0, max(len(present) - 1, 0))
    found = (present[pos] == grid) if len(present) else np.zeros(len(grid), dtype=bool)
    gpos = np.clip(np.searchsorted(grid, present), 0, max(len(grid) - 1, 0))
    off = int((grid[gpos] != present).sum()) if len(grid) else len(present)
    missing_sessions = np.setdiff1d(np.unique(sess[~found]), np.unique(sess[found]))
    return {
        "expected_bars": len(grid),
        "missing_bars": int((~found).sum()),
        "missing_sessions": len(missing_sessions),
        "first_missing_sessions": [
            pd.Timestamp(int(x)).date().isoformat() for x in missing_sessions[:MAX_SAMPLES]
        ],
        "off_calendar_rows": off,
    }


def _publish(
    staged: dict[str, Any],
    f: Freq,
    cal: str | None,
    lake: Lake,
    result: IngestResult,
    settings: Settings,
    record: bool,
    progress: Progress | None,
) -> None:
    """Merge each staged symbol into its partition and publish, under the partitions' locks
    from reading the stored file to committing the catalog, so concurrent ingests add up."""
    pending: list[Pending] = []
    conn = None
    if record:
        from easyquant.db import connect

        conn = connect(settings)
    try:
        with lake.locked(f.name, staged, conn):
            for k, (sym, path) in enumerate(sorted(staged.items())):
                with pa.memory_map(str(path)) as src:
                    new = pa.ipc.open_file(src).read_all()
                old = lake.read(f.name, sym)
                merged = merge(old, new)
                rep = result.symbols[sym]
                if cal and new.num_rows:
                    ts = merged.column("timestamp").cast(pa.int64()).to_numpy()
                    nts = new.column("timestamp").cast(pa.int64())
                    first = int(nts[0].as_py())
                    if old is not None and old.num_rows:
                        prev = int(old.column("timestamp").cast(pa.int64())[-1].as_py())
                        first = min(first, prev) if prev < first else first
                    rep.gaps = gap_report(cal, f, ts, first, int(nts[-1].as_py()))
                p = lake.prepare(f.name, sym, merged, cal or lake.calendar(f.name, sym))
                pending.append(p)
                rep.status = "stored" if p.changed else "unchanged"
                del new, old, merged
                if _after_prepare is not None:
                    _after_prepare(p)
                if progress is not None:
                    progress(0.9 + 0.1 * (k + 1) / len(staged), f"wrote {sym}", {})
            _commit(pending, result, conn)
    finally:
        for p in pending:
            Lake.discard(p)
        if conn is not None:
            conn.close()  # rolls back (and unlocks) whatever was not committed


def _commit(pending: list[Pending], result: IngestResult, conn: Any) -> None:
    """Rename the prepared files into place and commit the catalog and reports with them.

    When a rename fails midway, the catalog is committed for the files already renamed, so
    it says what the lake holds, and the error is raised.
    """
    if conn is None:
        for p in pending:
            Lake.commit(p)
        return
    from easyquant.data import catalog

    with conn.cursor() as cur:
        cur.execute("SAVEPOINT publish")
        catalog.upsert_entries(cur, [_entry(p) for p in pending])
        catalog.insert_reports(cur, _report_rows(result))
        if result.actions is not None:
            catalog.upsert_actions(cur, result.actions)
        done: list[Pending] = []
        try:
            for p in pending:
                Lake.commit(p)
                done.append(p)
        except BaseException:
            cur.execute("ROLLBACK TO SAVEPOINT publish")
            catalog.upsert_entries(cur, [_entry(p) for p in done])
            conn.commit()
            raise
    conn.commit()


def _entry(p: Pending) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "freq": p.freq,
        "calendar": p.calendar,
        "first_ts": pd.Timestamp(p.first_ns, tz="UTC").to_pydatetime(),
        "last_ts": pd.Timestamp(p.last_ns, tz="UTC").to_pydatetime(),
        "rows": p.rows,
        "checksum": p.checksum,
        "path": str(p.path),
    }


def _report_rows(result: IngestResult, error: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for rep in result.symbols.values():
        row = asdict(rep)
        row.update(
            ingest_id=result.ingest_id,
            source=result.source,
            freq=result.freq,
            quarantine_path=result.quarantine_path,
            error=error,
        )
        if error is not None:
            row["status"] = "rejected"
        rows.append(row)
    if error is not None and not rows:
        rows.append(
            {
                "ingest_id": result.ingest_id,
                "source": result.source,
                "symbol": "*",
                "freq": result.freq,
                "status": "rejected",
                "error": error,
                "origin": "",
                "rows_read": 0,
                "rows_skipped": 0,
                "rows_rejected": 0,
                "rows_stored": 0,
            }
        )
    return rows


def _record_failure(settings: Settings, result: IngestResult, error: str) -> None:
    """Store the quality report of a refused ingest (the catalog is not touched)."""
    from easyquant.data import catalog
    from easyquant.db import connect
    from easyquant.errors import DatabaseError

    for rep in result.symbols.values():
        rep.rows_stored = 0
    try:
        conn = connect(settings)
    except DatabaseError:
        return
    try:
        with conn.cursor() as cur:
            catalog.insert_reports(cur, _report_rows(result, error=error))
        conn.commit()
    finally:
        conn.close()
