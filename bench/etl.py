"""Benchmark: ingest a 10-million-row minute-bar CSV (100 symbols) into a partitioned lake.

Runs, each in its own process so peak memory (max RSS) is its own:
  easyquant  easyquant.data.ingest (streaming CSV, full validation, staged upsert, atomic writes)
  pyarrow    pyarrow.csv.open_csv -> pyarrow.dataset.write_dataset(partitioning=["symbol"])
  duckdb     COPY (SELECT * FROM read_csv(...)) TO dir (FORMAT parquet, PARTITION_BY symbol)

    .venv/bin/python bench/etl.py [--rows 10000000] [--symbols 100] [--csv /tmp/eq_bench.csv]

The CSV is generated once with the synthetic source (XNYS minutes, rows interleaved by time).

    .venv/bin/python bench/etl.py --layouts [--repeat 3]

compares ingesting the same bars from the plain file and from the same file rewritten in the
akshare layout (Chinese headers, open/close/high/low order, 成交量 in 手, five more columns),
alternating the two ``--repeat`` times, and prints the time ratio (median and range) and
whether both lakes hold identical files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def make_csv(path: Path, rows: int, symbols: int) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from easyquant.data.frequency import parse_freq
    from easyquant.data.sources import SyntheticSource

    per = rows // symbols
    src = SyntheticSource("XNYS", seed=7)
    f = parse_freq("1m")
    sessions = per // 390 + 2
    end = pd.Timestamp("2020-01-02") + pd.Timedelta(days=int(sessions * 1.5) + 10)
    tables = []
    for i in range(symbols):
        t = src.generate(f"S{i:03d}", f, pd.Timestamp("2020-01-02"), end).slice(0, per)
        tables.append(t.drop_columns(["line"]))
    table = pa.concat_tables(tables)
    ts = table.column("timestamp").cast(pa.int64())
    import numpy as np

    order = np.lexsort((np.repeat(np.arange(symbols), per), ts.to_numpy()))
    table = table.take(pa.array(order))
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp)
    os.replace(tmp, path)


def make_layouts(base: Path, plain: Path, akshare: Path) -> None:
    """Write the base CSV's bars twice: plain, and in akshare's layout (volume in 手).

    Volumes are rounded down to whole lots of 100 shares in both, so both store the same bars.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    t = pacsv.read_csv(base)
    vol = pc.floor(pc.divide(t.column("volume"), 100.0))
    t = t.set_column(t.schema.get_field_index("volume"), "volume", pc.multiply(vol, 100.0))
    tmp = plain.with_suffix(".tmp")
    pacsv.write_csv(t, tmp)
    os.replace(tmp, plain)
    ts = pc.strftime(
        t.column("timestamp").cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%d %H:%M:%S"
    )
    close, opn, high, low = (t.column(c) for c in ("close", "open", "high", "low"))
    cols = {
        "时间": ts,
        "股票代码": t.column("symbol"),
        "开盘": t.column("open"),
        "收盘": close,
        "最高": t.column("high"),
        "最低": t.column("low"),
        "成交量": vol,
        "成交额": pc.round(pc.multiply(t.column("volume"), close), 2),
        # akshare gives 振幅, 涨跌幅 and 换手率 in percent with two decimals
        "振幅": pc.round(pc.divide(pc.multiply(pc.subtract(high, low), 100.0), close), 2),
        "涨跌幅": pc.round(pc.divide(pc.multiply(pc.subtract(close, opn), 100.0), opn), 2),
        "涨跌额": pc.round(pc.subtract(close, opn), 2),
        "换手率": pc.round(pc.divide(vol, 1e4), 2),
    }
    tmp = akshare.with_suffix(".tmp")
    pacsv.write_csv(pa.table(cols), tmp)
    os.replace(tmp, akshare)


def run_easyquant(csv: str, out: str) -> dict:
    from easyquant.config import load_settings
    from easyquant.data.ingest import ingest
    from easyquant.data.sources import make_source

    settings = load_settings(home=out)
    r = ingest(
        make_source("csv", path=csv, tz="UTC"),
        freq="1m",
        calendar="XNYS",
        settings=settings,
        record=False,
    )
    return r.totals()


def run_pyarrow(csv: str, out: str) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    reader = pacsv.open_csv(csv, read_options=pacsv.ReadOptions(block_size=16 << 20))
    ds.write_dataset(
        reader,
        out,
        format="parquet",
        partitioning=["symbol"],
        partitioning_flavor="hive",
        existing_data_behavior="overwrite_or_ignore",
        max_partitions=1024,
    )
    return {}


def run_duckdb(csv: str, out: str) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' "
        "(FORMAT parquet, PARTITION_BY (symbol), OVERWRITE_OR_IGNORE)"
    )
    return {}


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; unlike ru_maxrss, not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


RUNNERS = {
    "easyquant": run_easyquant,
    "easyquant-akshare": run_easyquant,
    "pyarrow": run_pyarrow,
    "duckdb": run_duckdb,
}


def child(name: str, csv: str, out: str) -> None:
    t0 = time.perf_counter()
    c0 = time.process_time()
    extra = RUNNERS[name](csv, out)
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak = _peak_mb()
    print(json.dumps({"name": name, "seconds": secs, "cpu_s": cpu, "peak_mb": peak, **extra}))


def _lake_digest(out: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in sorted((out / "lake").rglob("*.parquet")):
        h.update(str(p.relative_to(out)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _child_run(name: str, csv: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, str(csv), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def layouts(csv: Path, repeat: int) -> None:
    """Plain vs akshare layout, alternating, same bars; print the ratio's median and range."""
    import statistics

    plain = csv.with_name(csv.stem + "_lots.csv")
    ak = csv.with_name(csv.stem + "_akshare.csv")
    if not (ak.exists() and plain.exists()):
        make_layouts(csv, plain, ak)
    ratios, cpu_ratios, digests = [], [], set()
    for i in range(repeat):
        res = {}
        order = [("easyquant", plain), ("easyquant-akshare", ak)]
        for name, path in order if i % 2 == 0 else order[::-1]:  # alternate who runs first
            out = Path(f"/tmp/eq_bench_out_{name}")
            res[name] = _child_run(name, path, out)
            digests.add(_lake_digest(out))
            shutil.rmtree(out, ignore_errors=True)
        p, a = res["easyquant"], res["easyquant-akshare"]
        ratios.append(a["seconds"] / p["seconds"])
        cpu_ratios.append(a["cpu_s"] / p["cpu_s"])
        print(
            f"run {i + 1}: plain {p['seconds']:.2f} s ({p['cpu_s']:.2f} s CPU), akshare "
            f"{a['seconds']:.2f} s ({a['cpu_s']:.2f} s CPU), ratio {ratios[-1]:.3f} "
            f"(CPU {cpu_ratios[-1]:.3f}), rows stored {p['rows_stored']} / {a['rows_stored']}",
            flush=True,
        )
    for what, r in (("wall-clock", ratios), ("CPU", cpu_ratios)):
        print(
            f"akshare / plain {what}: median {statistics.median(r):.3f}, "
            f"range {min(r):.3f}-{max(r):.3f}"
        )
    print(f"identical lakes: {len(digests) == 1}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layouts", action="store_true", help="plain vs akshare layout")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--csv", default="/tmp/eq_bench_minutes.csv")
    ap.add_argument("--only", default="easyquant,pyarrow,duckdb")
    ap.add_argument("--child", nargs=3, metavar=("NAME", "CSV", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    csv = Path(args.csv)
    if not csv.exists():
        t = time.perf_counter()
        make_csv(csv, args.rows, args.symbols)
        print(
            f"generated {csv} ({csv.stat().st_size / 1e9:.2f} GB) in "
            f"{time.perf_counter() - t:.0f} s",
            file=sys.stderr,
        )
    if args.layouts:
        layouts(csv, args.repeat)
        return
    with open(csv, "rb") as fh:
        rows = sum(1 for _ in fh) - 1
    results = []
    for name in args.only.split(","):
        out = Path(f"/tmp/eq_bench_out_{name}")
        res = _child_run(name, csv, out)
        res["rows_per_s"] = rows / res["seconds"]
        results.append(res)
        print(
            f"{name:<10} {rows / res['seconds'] / 1e6:6.2f} M rows/s  "
            f"{res['seconds']:7.2f} s  peak {res['peak_mb']:7.0f} MB",
            flush=True,
        )
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({"rows": rows, "results": results}))


if __name__ == "__main__":
    main()
