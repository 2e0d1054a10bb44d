"""The Parquet lake: ``<lake>/bars/freq=<f>/symbol=<s>/data.parquet``, one file per partition.

Writes are atomic (temp file in the same folder, fsync, rename), so a crash leaves the previous
file readable. Files are deterministic: fixed row groups and compression, no write times in
the metadata, so the same rows always give the same bytes.

Many workers may write one lake (Celery workers on several hosts sharing a volume). A writer
holds the partition's lock from reading the stored file to renaming the merged one
(:meth:`Lake.locked`: a PostgreSQL advisory lock, which every worker's database shares). Temp
files and staging folders carry their owner's :func:`~easyquant._proc.owner_token`, so
:meth:`Lake.sweep` removes only those whose owner has ended, never another live worker's.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from easyquant._proc import owner_gone, owner_token
from easyquant.data.batch import LIMIT_FIELDS, TS_TYPE, VALUE_FIELDS
from easyquant.data.symbols import check_symbol

FILE = "data.parquet"
TMP_PREFIX = f".{FILE}.tmp-"
# a temp file of a worker on another host or in another container cannot be checked by pid:
# it is abandoned once nothing has written to it for this long
FOREIGN_MAX_AGE = 24 * 3600.0
ROW_GROUP = 1 << 18
LAKE_SCHEMA = pa.schema([("timestamp", TS_TYPE)] + [(f, pa.float64()) for f in VALUE_FIELDS])
# with the day's published limit prices: nullable columns a partition holds only when some of
# its bars carry them, so partitions without them keep their bytes
LIMITS_SCHEMA = pa.schema([*LAKE_SCHEMA, *((f, pa.float64()) for f in LIMIT_FIELDS)])


def conform(table: pa.Table, *, limits: bool | None = None) -> pa.Table:
    """``table`` in the lake's columns: with both limit columns (null where missing) when
    ``limits`` is True, without when False; when None, with them only if a value is set."""
    if limits is None:
        limits = any(
            f in table.column_names and table.column(f).null_count < table.num_rows
            for f in LIMIT_FIELDS
        )
    if not limits:
        return table.select(LAKE_SCHEMA.names).cast(LAKE_SCHEMA)
    for f in LIMIT_FIELDS:
        if f not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, pa.float64()))
    return table.select(LIMITS_SCHEMA.names).cast(LIMITS_SCHEMA)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Pending:
    """A partition file written under a temporary name, ready to be renamed into place."""

    freq: str
    symbol: str
    tmp: Path
    path: Path
    rows: int
    first_ns: int
    last_ns: int
    checksum: str
    calendar: str | None
    changed: bool


class Lake:
    """The bar store under ``root`` (``settings.lake_dir``)."""

    def __init__(self, root: Path | str, *, foreign_max_age: float = FOREIGN_MAX_AGE) -> None:
        self.root = Path(root)
        self.foreign_max_age = foreign_max_age

    # ----- paths --------------------------------------------------------------------------
    def path(self, freq: str, symbol: str) -> Path:
        """The partition's file; a symbol that could leave the lake is a ConfigError."""
        check_symbol(symbol)
        return self.root / "bars" / f"freq={freq}" / f"symbol={symbol}" / FILE

    def staging_dir(self, ingest_id: str) -> Path:
        """This process's staging folder for ``ingest_id`` (named with its owner token)."""
        return self.root / ".staging" / f"{ingest_id}@{owner_token()}"

    def quarantine_path(self, freq: str, ingest_id: str) -> Path:
        return self.root / "quarantine" / f"freq={freq}" / f"{ingest_id}.parquet"

    def freqs(self) -> list[str]:
        base = self.root / "bars"
        if not base.is_dir():
            return []
        return sorted(p.name.split("=", 1)[1] for p in base.glob("freq=*") if p.is_dir())

    def symbols(self, freq: str) -> list[str]:
        base = self.root / "bars" / f"freq={freq}"
        if not base.is_dir():
            return []
        return sorted(p.parent.name.split("=", 1)[1] for p in base.glob(f"symbol=*/{FILE}"))

    # ----- reading ------------------------------------------------------------------------
    def read(self, freq: str, symbol: str) -> pa.Table | None:
        """Return the stored bars of one partition, or None when there are none."""
        path = self.path(freq, symbol)
        if not path.exists():
            return None
        table = pq.read_table(path, schema=None)
        return conform(table, limits=LIMIT_FIELDS[0] in table.column_names)

    def calendar(self, freq: str, symbol: str) -> str | None:
        path = self.path(freq, symbol)
        if not path.exists():
            return None
        meta = pq.read_schema(path).metadata or {}
        value = meta.get(b"easyquant.calendar")
        return value.decode() if value else None

    def last_timestamp(self, freq: str, symbol: str) -> int | None:
        """Return the last stored bar (ns UTC) from the file's statistics, or None."""
        span = self.span(freq, symbol)
        return None if span is None else span[1]

    def span(self, freq: str, symbol: str) -> tuple[int, int] | None:
        """Return the first and last stored bar (ns UTC) from the file's statistics, or None."""
        path = self.path(freq, symbol)
        if not path.exists():
            return None
        md = pq.ParquetFile(path).metadata
        if md.num_rows == 0:
            return None
        first = md.row_group(0).column(0).statistics
        last = md.row_group(md.num_row_groups - 1).column(0).statistics
        if first is not None and last is not None and first.has_min_max and last.has_min_max:
            lo = pa.scalar(first.min, TS_TYPE).cast(pa.int64()).as_py()
            return int(lo), int(pa.scalar(last.max, TS_TYPE).cast(pa.int64()).as_py())
        ts = pq.read_table(path, columns=["timestamp"]).column(0).cast(pa.int64())
        return int(ts[0].as_py()), int(ts[-1].as_py())

    # ----- writing ------------------------------------------------------------------------
    def prepare(
        self, freq: str, symbol: str, table: pa.Table, calendar: str | None = None
    ) -> Pending:
        """Write ``table`` (sorted, unique timestamps) to a temp file beside its partition."""
        path = self.path(freq, symbol)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{TMP_PREFIX}{owner_token()}-{uuid.uuid4().hex[:8]}"
        meta = {b"easyquant.calendar": calendar.encode()} if calendar else None
        table = conform(table).replace_schema_metadata(meta)
        pq.write_table(
            table,
            tmp,
            row_group_size=ROW_GROUP,
            compression="zstd",
            compression_level=1,
            use_dictionary=False,
            write_statistics=True,
            store_schema=True,
        )
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        checksum = sha256_file(tmp)
        changed = not path.exists() or sha256_file(path) != checksum
        ts = table.column("timestamp").cast(pa.int64())
        return Pending(
            freq,
            symbol,
            tmp,
            path,
            table.num_rows,
            int(ts[0].as_py()) if len(ts) else 0,
            int(ts[-1].as_py()) if len(ts) else 0,
            checksum,
            calendar,
            changed,
        )

    @staticmethod
    def commit(pending: Pending) -> None:
        """Move a prepared file into place (atomic rename), or drop it if nothing changed."""
        if not pending.changed:
            pending.tmp.unlink(missing_ok=True)
            return
        os.replace(pending.tmp, pending.path)
        fd = os.open(pending.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def discard(pending: Pending) -> None:
        pending.tmp.unlink(missing_ok=True)

    @contextmanager
    def locked(self, freq: str, symbols: Iterable[str], conn: Any = None) -> Iterator[None]:
        """Hold the write lock of each ``(freq, symbol)`` partition, taken in sorted order.

        With ``conn`` (a psycopg2 connection) the locks are PostgreSQL advisory locks of its
        current transaction, shared by every process and host using the database: they last
        until that transaction commits or rolls back, so commit the catalog inside. Without a
        database, an exclusive ``flock`` on each partition's folder serves one host.
        """
        names = sorted(set(symbols))
        if conn is not None:
            with conn.cursor() as cur:
                for symbol in names:
                    cur.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        [f"easyquant.lake/{freq}/{symbol}"],
                    )
            yield
            return
        with ExitStack() as stack:
            for symbol in names:
                folder = self.path(freq, symbol).parent
                folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
                stack.callback(os.close, fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield

    def sweep(self) -> int:
        """Remove temp files and staging folders whose owner has ended; return how many.

        The owner is judged by the token in the name (:func:`~easyquant._proc.owner_gone`):
        a live worker's files stay, whichever host or container it runs in.
        """
        removed = 0
        now = time.time()
        for tmp in (self.root / "bars").glob(f"freq=*/symbol=*/{TMP_PREFIX}*"):
            token = tmp.name.removeprefix(TMP_PREFIX).rsplit("-", 1)[0]
            if owner_gone(token, now - _last_write(tmp), self.foreign_max_age):
                tmp.unlink(missing_ok=True)
                removed += 1
        staging = self.root / ".staging"
        if staging.is_dir():
            for d in staging.iterdir():
                token = d.name.rpartition("@")[2]
                if owner_gone(token, now - _last_write(d), self.foreign_max_age):
                    shutil.rmtree(d, ignore_errors=True)
                    removed += 1
        return removed


def _last_write(path: Path) -> float:
    """The newest modification time of ``path`` and, for a folder, of what it holds."""
    try:
        times = [path.stat().st_mtime]
        if path.is_dir():
            times += [p.stat().st_mtime for p in path.rglob("*")]
    except OSError:  # removed meanwhile by its owner
        return time.time()
    return max(times)


def merge(old: pa.Table | None, new: pa.Table) -> pa.Table:
    """Upsert ``new`` into ``old`` by timestamp (new rows win); both sorted and unique.

    The result has the limit columns when either side has them (null on the other's rows).
    """
    limits = LIMIT_FIELDS[0] in new.column_names or (
        old is not None and LIMIT_FIELDS[0] in old.column_names
    )
    new = conform(new, limits=limits)
    if old is None or old.num_rows == 0:
        return new
    old = conform(old, limits=limits)
    if new.num_rows == 0:
        return old
    ots = old.column("timestamp").cast(pa.int64()).to_numpy()
    nts = new.column("timestamp").cast(pa.int64()).to_numpy()
    if ots[-1] < nts[0]:
        return pa.concat_tables([old, new]).combine_chunks()
    pos = np.clip(np.searchsorted(nts, ots), 0, len(nts) - 1)
    keep = nts[pos] != ots
    both = pa.concat_tables([old.filter(pa.array(keep)), new])
    ts = both.column("timestamp").cast(pa.int64()).to_numpy()
    return both.take(pa.array(np.argsort(ts, kind="stable"))).combine_chunks()
