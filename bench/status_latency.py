"""Status write -> websocket receipt latency, and the highest sustained update rate.

Three processes, as in production: monitor_api (uvicorn, its own process), a writer process that
reports status at a fixed rate through ``easyquant.status`` (each update carries its send time),
and a fourth process holding N websocket clients. Latency = receipt time - send time, per delivered
component version, over every client. The bridge coalesces versions of one component that arrive
within one read, so updates go round-robin over 50 components (like 50 busy tasks).

    .venv/bin/python bench/status_latency.py            # full table (about 3 minutes)
    .venv/bin/python bench/status_latency.py --quick    # smaller run

Uses EASYQUANT_DATABASE_URL's server when set, else a scratch embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import numpy as np
import psutil
import websockets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from easyquant.config import Settings, load_settings  # noqa: E402
from easyquant.db import ensure_database, migrate  # noqa: E402
from easyquant.db.embedded import EmbeddedPostgres  # noqa: E402

COMPONENTS = 50
SEND_TIME = re.compile(r'"t": ([0-9.]+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def writer(dsn_settings: dict[str, object], rate: float, seconds: float, ready: mp.Event) -> None:
    from easyquant import status

    settings = load_settings(**dsn_settings)  # type: ignore[arg-type]
    w = status.StatusWriter(settings)
    w.write("bench:warm", kind="cli", name="warm", state="running")
    ready.wait()
    n = int(rate * seconds)
    start = time.perf_counter()
    for i in range(n):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        w.write(
            f"bench:{i % COMPONENTS}",
            kind="cli",
            name="bench",
            state="running",
            progress=i / n,
            metrics={"t": time.time(), "i": i},
            event=False,
        )
    w.close()


async def client(url: str, latencies: list[float], counts: list[int], stop: asyncio.Event) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()  # snapshot
        counts[0] += 1
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            # a browser parses the whole frame; here only the send times are needed, and a regex
            # keeps the measuring clients from starving the server of the machine's two cores
            latencies.extend(now - float(t) for t in SEND_TIME.findall(raw))


def clients_process(
    url: str, clients: int, connected: mp.Event, done: mp.Event, out: Connection
) -> None:
    """Hold ``clients`` websockets in this process (apart from the server and the writer)."""
    latencies: list[float] = []

    async def main() -> None:
        stop = asyncio.Event()
        counts = [0]
        tasks = [asyncio.create_task(client(url, latencies, counts, stop)) for _ in range(clients)]
        while counts[0] < clients:
            await asyncio.sleep(0.05)
        connected.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # drain what is still in flight
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    out.send(np.array(latencies, dtype=np.float64))
    out.close()


def run_case(settings: Settings, clients: int, rate: float, seconds: float, listen: bool) -> dict:
    port = free_port()
    env = dict(os.environ)
    env.update(
        EASYQUANT_DATABASE_URL=settings.dsn(),
        EASYQUANT_API_PORT=str(port),
        EASYQUANT_BRIDGE_LISTEN="true" if listen else "false",
        EASYQUANT_POLL_INTERVAL="0.5",
        EASYQUANT_CLIENT_QUEUE_SIZE="5000",
        EASYQUANT_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor_api.app"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        ready, connected, done = mp.Event(), mp.Event(), mp.Event()
        writer_proc = mp.Process(
            target=writer,
            args=(
                {"database_url": settings.dsn(), "home": str(settings.home)},
                rate,
                seconds,
                ready,
            ),
        )
        receive, send = mp.Pipe(duplex=False)
        client_proc = mp.Process(
            target=clients_process,
            args=(f"ws://127.0.0.1:{port}/ws/status", clients, connected, done, send),
        )
        client_proc.start()
        writer_proc.start()
        if not connected.wait(120):
            raise RuntimeError(f"{clients} clients did not connect within 120 s")
        ready.set()
        started = time.monotonic()
        procs = {
            "server": psutil.Process(server.pid),
            "writer": psutil.Process(writer_proc.pid),
            "clients": psutil.Process(client_proc.pid),
        }
        cpu0 = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        writer_proc.join()
        writer_seconds = time.monotonic() - started
        cpu1 = {k: sum(p.cpu_times()[:2]) for k, p in procs.items() if k != "writer"}
        done.set()
        lat = receive.recv() * 1000
        client_proc.join()
        sent = int(rate * seconds)
        return {
            "clients": clients,
            "mode": "notify" if listen else "poll",
            "rate": rate,
            "sent": sent,
            "achieved_rate": sent / writer_seconds,
            "received_per_client": len(lat) / clients,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
            # CPU share of one core each process used while the writer ran
            "cpu": {k: round((cpu1[k] - cpu0[k]) / writer_seconds, 2) for k in cpu1},
        }
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="eqbench-"))
    embedded = None
    if os.environ.get("EASYQUANT_DATABASE_URL"):
        base = load_settings(home=home)
    else:
        base = load_settings(home=home, database_url=None, embedded_pg_port=free_port())
        embedded = EmbeddedPostgres(base)
        embedded.start()
    name = f"eq_bench_{uuid.uuid4().hex[:8]}"
    settings = load_settings(home=home, database_url=base.dsn(name))
    ensure_database(settings, name)
    migrate(settings)
    rows = []
    try:
        seconds = 2.0 if args.quick else args.seconds
        cases = [(1, 1000), (100, 1000), (500, 1000)]
        if args.quick:
            cases = [(1, 500), (100, 500)]
        for clients, rate in cases:
            for listen in (True, False):
                rows.append(run_case(settings, clients, rate, seconds, listen))
                print(json.dumps(rows[-1]), flush=True)
        if not args.quick:
            for rate in (2000, 4000):
                rows.append(run_case(settings, 100, rate, seconds, True))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        if embedded is not None:
            embedded.stop("immediate")
    print()
    print("| clients | mode | target/s | achieved/s | received per client | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['clients']} | {r['mode']} | {r['rate']:.0f} | {r['achieved_rate']:.0f} | "
            f"{r['received_per_client']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()
