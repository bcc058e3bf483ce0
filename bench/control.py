"""Control-plane benchmark: N Socket.IO clients each cast one ballot within about a second.

Measures, for every ballot, the time from its cast until EVERY client holds a tally that
includes it (the ack says how many ballots were counted with it; a `vote_tally` with at least
that many includes it), and splits it (p99 of each part in the table): the ack; from the ack
to the start of the tally broadcast that first carries the ballot (its `server_ms`); from then
until every client holds it. The server (`hoinghi serve`) and the clients run in separate
processes on the same machine.

Each size runs twice, each time against its own fresh server: the product configuration (the
tally broadcast at most every 50 ms) and, as the same-run baseline, the naive design docs/architecture.md
measured — the tally broadcast after every ballot (HOINGHI_TALLY_INTERVAL_MS=0).
`ratio_p99` = product p99 / baseline p99 (lower is better). The baseline runs only up to
--baseline-max clients (default 500): at 1,000 clients it needs a million tally messages and
minutes of CPU on a 2-core box, and its result (seconds) is already clear from 500.

    .venv/bin/python bench/control.py                 # 100, 500 and 1000 clients (baseline at 100, 500)
    .venv/bin/python bench/control.py --quick         # 100 clients, with baseline
    .venv/bin/python bench/control.py --clients 500 --baseline-max 0   # no baseline

Prints a table and one line per size: `control clients=N vote_p50_ms=.. vote_p99_ms=.. lost=..
baseline_p50_ms=.. baseline_p99_ms=.. ratio_p99=..` (the baseline keys are absent where it did
not run).
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SESSION_COOKIE = "hoinghi_session"  # web.auth.SESSION_COOKIE (checked in main)
# Joins in flight per client process. 32 or 100 gained nothing; before roster and attendance broadcasts were
# coalesced, 32 at 1,000 clients also ran the server's DB pool (5+10, 30 s) dry (100 no longer does).
CONNECT_IN_FLIGHT = int(os.environ.get('BENCH_CONNECT_IN_FLIGHT', '10'))
CAST_WINDOW_S = 1.0
PRODUCT_INTERVAL_MS = 50  # web.settings.DEFAULT_TALLY_INTERVAL_MS
BASELINE_INTERVAL_MS = 0  # the tally after every ballot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare(db_url: str, config_path: Path, n: int) -> tuple[int, str, list[str]]:
    """Schema, accounts (no Argon2: sessions are opened directly), a meeting; returns cookies."""
    from meetings.accounts import Principal, open_session
    from meetings.config import load_rooms_config
    from meetings.config_sync import sync_rooms_config
    from meetings.db import create_engine, session_factory, upgrade_schema
    from meetings.meetings_service import create_meeting
    from meetings.models import Account

    engine = create_engine(db_url)
    await upgrade_schema(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        await sync_rooms_config(session, load_rooms_config(config_path))
        rows = [Account(username="chutoa", display_name="Chủ tọa", role="chair", password_hash="!"),
                Account(username="thuky", display_name="Thư ký", role="secretary", password_hash="!")]
        rows += [Account(username=f"db{i}", display_name=f"Đại biểu {i}", role="delegate", password_hash="!") for i in range(n)]
        session.add_all(rows)
        await session.commit()
        chair, secretary, delegates = rows[0], rows[1], rows[2:]
        room = config_path and load_rooms_config(config_path).rooms[0].id
        meeting_id = await create_meeting(
            session, room_id=room, title="Benchmark", scheduled_start=datetime.now(timezone.utc),
            chair_id=chair.id, secretary_id=secretary.id, delegates=[(d.id, None) for d in delegates],
        )
        chair_cookie = await open_session(session, Principal("account", str(chair.id), "Chủ tọa", "chair"))
        cookies = [await open_session(session, Principal("account", str(d.id), d.display_name, "delegate")) for d in delegates]
    await engine.dispose()
    return meeting_id, chair_cookie, cookies


# ------------------------------------------------------------------ client processes

def client_process(url: str, meeting_id: int, cookies: list[str], total: int, settle_s: float, conn) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_client_main(url, meeting_id, cookies, total, settle_s, conn))


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one by default), from /proc."""
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _client_main(url: str, meeting_id: int, cookies: list[str], total: int, settle_s: float, conn) -> None:  # type: ignore[no-untyped-def]
    import socketio  # not web.auth: its imports (SQLAlchemy, Alembic) cost each client process a second of CPU

    cpu_started = cpu_seconds()
    loop = asyncio.get_running_loop()
    clients = []
    tallies: list[list[tuple[float, int]]] = []
    broadcast_at: dict[int, float] = {}  # ballots in a tally -> when the server built it

    async def connect(cookie: str) -> None:
        client = socketio.AsyncClient(reconnection=False)
        seen: list[tuple[float, int]] = []
        best = [0]

        def on_tally(data: dict) -> None:
            if data["ballots"] > best[0]:  # keep only increases: the first time each level is held
                best[0] = data["ballots"]
                seen.append((time.time(), data["ballots"]))
                broadcast_at.setdefault(data["ballots"], data["server_ms"] / 1000)

        client.on("vote_tally", on_tally)
        await client.connect(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, transports=["websocket"],
                             wait_timeout=60)
        ack = await client.call("join_meeting", {"meeting_id": meeting_id}, timeout=300)
        assert ack["ok"], ack
        clients.append(client)
        tallies.append(seen)

    # A pool rather than lock-step batches: the server always has joins queued, none waits for the
    # slowest of its batch (the listen backlog of `hoinghi serve` is 2,048).
    waiting = list(reversed(cookies))
    failed = 0

    async def connector() -> None:
        nonlocal failed
        while waiting:
            try:
                await connect(waiting.pop())
            except Exception:
                failed += 1

    await asyncio.gather(*(connector() for _ in range(CONNECT_IN_FLIGHT)))
    conn.send("ready")
    cpu_connected = cpu_seconds() - cpu_started
    vote_id, t0 = await loop.run_in_executor(None, conn.recv)
    rng = random.Random(os.getpid())
    casts: list[tuple[float, float, int]] = []  # (cast time, ack time, ballots counted with it; -1 lost)

    async def cast(client) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(max(0.0, t0 + rng.random() * CAST_WINDOW_S - time.time()))
        sent = time.time()
        try:
            ack = await client.call("vote_cast", {"vote_id": vote_id, "choice": rng.choice(["yes", "no", "abstain"])},
                                    timeout=30 + settle_s)
            casts.append((sent, time.time(), ack["ballots"] if ack.get("ok") else -1))
        except Exception:
            casts.append((sent, time.time(), -1))

    await asyncio.gather(*(cast(c) for c in clients))
    deadline = time.time() + settle_s
    while time.time() < deadline and any(not s or s[-1][1] < total for s in tallies):
        await asyncio.sleep(0.05)
    conn.send(json.dumps({"casts": casts, "tallies": tallies, "broadcast_at": broadcast_at, "failed": failed,
                          "cpu_connect_s": cpu_connected, "cpu_vote_s": cpu_seconds() - cpu_started - cpu_connected}))
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


# ------------------------------------------------------------------ one run

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _chair(url: str, cookie: str, meeting_id: int):  # type: ignore[no-untyped-def]
    import socketio

    from web.auth import SESSION_COOKIE

    chair = socketio.AsyncClient(reconnection=False)
    await chair.connect(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, transports=["websocket"])
    assert (await chair.call("join_meeting", {"meeting_id": meeting_id}, timeout=60))["ok"]
    assert (await chair.call("meeting_open", {}, timeout=60))["ok"]
    return chair


def run(n: int, processes: int, interval_ms: int, settle_s: float) -> dict[str, float]:
    """One size against a fresh server whose tally broadcast interval is `interval_ms`."""
    workdir = Path(tempfile.mkdtemp(prefix="hoinghi-bench-control-"))
    db_url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    config = REPO / "rooms.toml" if (REPO / "rooms.toml").is_file() else REPO / "web" / "sample" / "rooms.toml"
    meeting_id, chair_cookie, cookies = asyncio.run(prepare(db_url, config, n))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys; from web.cli import main; main(sys.argv[1:])", "serve",
         "--config", str(config), "--db", db_url, "--data-dir", str(workdir), "--port", str(port), "--log-level", "WARNING"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(workdir / "server.log", "w"),
        env={**os.environ, "HOINGHI_TALLY_INTERVAL_MS": str(interval_ms)},
    )
    ctx = mp.get_context("spawn")
    workers = []
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start; see {workdir / 'server.log'}")
        server_cpu_started = cpu_seconds(server.pid)
        started = time.time()
        for i in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(url, meeting_id, cookies[i::processes], n, settle_s, child),
                               daemon=True)
            proc.start()
            workers.append((proc, parent))
        for _, pipe in workers:
            if not pipe.poll(600):
                raise RuntimeError("clients did not connect in time")
            assert pipe.recv() == "ready"
        connect_s = time.time() - started
        server_cpu_connected = cpu_seconds(server.pid) - server_cpu_started

        async def vote() -> tuple[dict, list[dict]]:
            chair = await _chair(url, chair_cookie, meeting_id)
            opened = await chair.call("vote_open", {"title": "Biểu quyết thử", "secret": True}, timeout=60)
            assert opened["ok"], opened
            t0 = time.time() + 0.5
            for _, pipe in workers:
                pipe.send((opened["vote"]["id"], t0))
            loop = asyncio.get_running_loop()
            results = []
            for _, pipe in workers:
                results.append(json.loads(await loop.run_in_executor(None, pipe.recv)))
            closed = await chair.call("vote_close", {"vote_id": opened["vote"]["id"]}, timeout=60)
            await chair.disconnect()
            return closed, results

        closed, results = asyncio.run(vote())
        server_cpu_vote = cpu_seconds(server.pid) - server_cpu_started - server_cpu_connected
    finally:
        for proc, _ in workers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    casts = [tuple(c) for r in results for c in r["casts"]]
    tallies = [t for r in results for t in r["tallies"]]
    # When did every client first hold a tally of at least k ballots?
    levels = sorted({k for _, _, k in casts if k > 0})
    held_by_all: dict[int, float] = {}
    for k in levels:
        times = []
        for seen in tallies:
            t = next((when for when, ballots in seen if ballots >= k), None)
            times.append(float("inf") if t is None else t)
        held_by_all[k] = max(times) if times else float("inf")
    latencies = [(held_by_all[k] - sent) * 1000 for sent, _, k in casts if k > 0 and held_by_all[k] != float("inf")]
    acks = [(acked - sent) * 1000 for sent, acked, k in casts if k > 0]
    # The tally broadcast that first carried ballot level k: the earliest built with at least k.
    built_at: dict[int, float] = {}
    for r in results:
        for level, at in r["broadcast_at"].items():
            built_at[int(level)] = min(at, built_at.get(int(level), at))
    built = sorted(built_at)
    earliest_from = [0.0] * len(built)  # the earliest broadcast with at least built[i] ballots
    running = float("inf")
    for i in reversed(range(len(built))):
        running = earliest_from[i] = min(running, built_at[built[i]])
    carried = {}
    for k in levels:
        i = bisect.bisect_left(built, k)
        carried[k] = earliest_from[i] if i < len(built) else float("inf")
    to_tally = [(carried[k] - acked) * 1000 for _, acked, k in casts if k > 0 and carried[k] != float("inf")]
    delivered = [(held_by_all[k] - carried[k]) * 1000 for _, _, k in casts
                 if k > 0 and float("inf") not in (carried[k], held_by_all[k])]
    final_held = min((seen[-1][1] if seen else 0) for seen in tallies)
    counted = closed["result"]["ballots"] if closed.get("ok") else 0
    # Lost: a cast without an ok ack, a client whose last tally misses a ballot, a ballot the closed
    # vote does not count. Clients that could not connect and join cast nothing: `unconnected`.
    unconnected = sum(r["failed"] for r in results)
    lost = (len(casts) - sum(1 for _, _, k in casts if k > 0)) + max(0, len(casts) - final_held) + (len(casts) - counted)
    return {
        "clients": n, "processes": processes, "interval_ms": interval_ms, "connect_s": connect_s,
        "server_cpu_connect_s": server_cpu_connected, "server_cpu_vote_s": server_cpu_vote,
        "client_cpu_connect_s": sum(r["cpu_connect_s"] for r in results),
        "client_cpu_vote_s": sum(r["cpu_vote_s"] for r in results),
        "vote_p50_ms": percentile(latencies, 0.5), "vote_p99_ms": percentile(latencies, 0.99),
        "ack_p50_ms": percentile(acks, 0.5), "ack_p99_ms": percentile(acks, 0.99), "counted": counted, "lost": lost,
        "to_tally_p99_ms": percentile(to_tally, 0.99), "delivered_p99_ms": percentile(delivered, 0.99),
        "unconnected": unconnected,
    }


def fmt(value: float) -> str:
    return "nan" if value != value else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 500, 1000], help="sizes (default: 100 500 1000)")
    parser.add_argument("--quick", action="store_true", help="100 clients only (product and baseline)")
    parser.add_argument("--baseline-max", type=int, default=500,
                        help="run the per-ballot baseline only up to this many clients (default 500; 0: never)")
    parser.add_argument("--processes", type=int, default=0, help="client processes (default: 1 per 250 clients, 1–4)")
    args = parser.parse_args()
    from web.auth import SESSION_COOKIE as cookie_name

    assert cookie_name == SESSION_COOKIE, cookie_name
    sizes = [100] if args.quick else args.clients
    rows: list[tuple[dict, dict | None]] = []
    for n in sizes:
        processes = args.processes or max(1, min(4, (n + 249) // 250))
        product = run(n, processes, PRODUCT_INTERVAL_MS, settle_s=15)
        print(f"  {n} clients: connect {product['connect_s']:.1f} s, p50 {product['vote_p50_ms']:.0f} ms, "
              f"p99 {product['vote_p99_ms']:.0f} ms, lost {product['lost']}", file=sys.stderr, flush=True)
        baseline = None
        if n <= args.baseline_max:
            # The naive design takes seconds per size; give its clients time to receive every tally.
            baseline = run(n, processes, BASELINE_INTERVAL_MS, settle_s=180)
            print(f"  {n} clients, baseline: connect {baseline['connect_s']:.1f} s, p50 {baseline['vote_p50_ms']:.0f} ms, "
                  f"p99 {baseline['vote_p99_ms']:.0f} ms, lost {baseline['lost']}", file=sys.stderr, flush=True)
        rows.append((product, baseline))
    print(f"{'clients':>7} {'tally every':>11} {'procs':>5} {'connect s':>9} {'srv cpu s':>9} {'cli cpu s':>9} "
          f"{'ack p50':>8} {'ack p99':>8} {'→tally':>7} {'→all':>7} {'vote p50':>9} {'vote p99':>9} {'counted':>7} "
          f"{'lost':>4} {'unconn':>6}")
    for product, baseline in rows:
        for r in (product, baseline):
            if r is None:
                continue
            every = f"{r['interval_ms']} ms" if r["interval_ms"] else "ballot"
            print(f"{r['clients']:>7} {every:>11} {r['processes']:>5} {r['connect_s']:>9.1f} "
                  f"{r['server_cpu_connect_s']:>4.0f}+{r['server_cpu_vote_s']:<4.1f} "
                  f"{r['client_cpu_connect_s']:>4.0f}+{r['client_cpu_vote_s']:<4.1f} "
                  f"{r['ack_p50_ms']:>8.1f} {r['ack_p99_ms']:>8.1f} {r['to_tally_p99_ms']:>7.1f} {r['delivered_p99_ms']:>7.1f} "
                  f"{r['vote_p50_ms']:>9.1f} {r['vote_p99_ms']:>9.1f} "
                  f"{r['counted']:>7} {r['lost']:>4} {r['unconnected']:>6}")
    print("(vote = from a ballot's cast until every client holds a tally that includes it; ms. →tally: p99 from the ack to\n"
          " the start of the broadcast carrying it; →all: p99 from then until every client holds it. cpu = connect + vote.\n"
          f" Baseline = tally after every ballot (HOINGHI_TALLY_INTERVAL_MS=0), same run, own server; up to {args.baseline_max} clients.)")
    for product, baseline in rows:
        line = (f"control clients={product['clients']} vote_p50_ms={fmt(product['vote_p50_ms'])} "
                f"vote_p99_ms={fmt(product['vote_p99_ms'])} lost={product['lost']}")
        if product["unconnected"]:
            line += f" unconnected={product['unconnected']}"
        if baseline is not None:
            line += (f" baseline_p50_ms={fmt(baseline['vote_p50_ms'])} baseline_p99_ms={fmt(baseline['vote_p99_ms'])}"
                     f" ratio_p99={product['vote_p99_ms'] / baseline['vote_p99_ms']:.3f}")
            if baseline["lost"]:
                line += f" baseline_lost={baseline['lost']}"
        print(line)


if __name__ == "__main__":
    main()
