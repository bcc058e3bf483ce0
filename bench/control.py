"""Control-plane benchmark: N Socket.IO clients each cast one ballot within about a second.

Measures, for every ballot, the time from its cast until EVERY client holds a tally that
includes it (the ack says how many ballots were counted with it; a `vote_tally` with at least
that many includes it). The server (`hoinghi serve`) and the clients run in separate processes.

    .venv/bin/python bench/control.py                 # 100, 500 and 1000 clients
    .venv/bin/python bench/control.py --clients 500

Prints a table and one line per size: `control clients=N vote_p50_ms=.. vote_p99_ms=.. lost=..`.
"""
from __future__ import annotations

import argparse
import asyncio
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

CONNECT_BATCH = 10
CAST_WINDOW_S = 1.0


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

def client_process(url: str, meeting_id: int, cookies: list[str], total: int, conn) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_client_main(url, meeting_id, cookies, total, conn))


async def _client_main(url: str, meeting_id: int, cookies: list[str], total: int, conn) -> None:  # type: ignore[no-untyped-def]
    import socketio

    from web.auth import SESSION_COOKIE

    loop = asyncio.get_running_loop()
    clients = []
    tallies: list[list[tuple[float, int]]] = []

    async def connect(cookie: str) -> None:
        client = socketio.AsyncClient(reconnection=False)
        seen: list[tuple[float, int]] = []
        best = [0]

        def on_tally(data: dict) -> None:
            if data["ballots"] > best[0]:  # keep only increases: the first time each level is held
                best[0] = data["ballots"]
                seen.append((time.time(), data["ballots"]))

        client.on("vote_tally", on_tally)
        await client.connect(url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, transports=["websocket"],
                             wait_timeout=60)
        ack = await client.call("join_meeting", {"meeting_id": meeting_id}, timeout=300)
        assert ack["ok"], ack
        clients.append(client)
        tallies.append(seen)

    failed = 0
    for start in range(0, len(cookies), CONNECT_BATCH):
        outcomes = await asyncio.gather(*(connect(c) for c in cookies[start:start + CONNECT_BATCH]), return_exceptions=True)
        failed += sum(1 for o in outcomes if isinstance(o, BaseException))
    conn.send("ready")
    vote_id, t0 = await loop.run_in_executor(None, conn.recv)
    rng = random.Random(os.getpid())
    casts: list[tuple[float, float, int]] = []  # (cast time, ack time, ballots counted with it; -1 lost)

    async def cast(client) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(max(0.0, t0 + rng.random() * CAST_WINDOW_S - time.time()))
        sent = time.time()
        try:
            ack = await client.call("vote_cast", {"vote_id": vote_id, "choice": rng.choice(["yes", "no", "abstain"])},
                                    timeout=30)
            casts.append((sent, time.time(), ack["ballots"] if ack.get("ok") else -1))
        except Exception:
            casts.append((sent, time.time(), -1))

    await asyncio.gather(*(cast(c) for c in clients))
    deadline = time.time() + 15
    while time.time() < deadline and any(not s or s[-1][1] < total for s in tallies):
        await asyncio.sleep(0.05)
    conn.send(json.dumps({"casts": casts, "tallies": tallies, "failed": failed}))
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


def run(n: int, processes: int) -> dict[str, float]:
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
        started = time.time()
        for i in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(url, meeting_id, cookies[i::processes], n, child), daemon=True)
            proc.start()
            workers.append((proc, parent))
        for _, pipe in workers:
            if not pipe.poll(600):
                raise RuntimeError("clients did not connect in time")
            assert pipe.recv() == "ready"
        connect_s = time.time() - started

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
    final_held = min((seen[-1][1] if seen else 0) for seen in tallies)
    counted = closed["result"]["ballots"] if closed.get("ok") else 0
    # Lost: a cast without an ok ack, a client whose last tally misses a ballot, a ballot the closed
    # vote does not count. Clients that could not connect and join cast nothing: `unconnected`.
    unconnected = sum(r["failed"] for r in results)
    lost = (len(casts) - sum(1 for _, _, k in casts if k > 0)) + max(0, len(casts) - final_held) + (len(casts) - counted)
    return {
        "clients": n, "processes": processes, "connect_s": connect_s,
        "vote_p50_ms": percentile(latencies, 0.5), "vote_p99_ms": percentile(latencies, 0.99),
        "ack_p50_ms": percentile(acks, 0.5), "ack_p99_ms": percentile(acks, 0.99), "counted": counted, "lost": lost,
        "unconnected": unconnected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="*", default=[100, 500, 1000])
    parser.add_argument("--processes", type=int, default=0, help="client processes (default: 1 per 250 clients, 1–4)")
    args = parser.parse_args()
    rows = []
    for n in args.clients:
        processes = args.processes or max(1, min(4, (n + 249) // 250))
        rows.append(run(n, processes))
        r = rows[-1]
        print(f"  {n} clients done: p50 {r['vote_p50_ms']:.0f} ms, p99 {r['vote_p99_ms']:.0f} ms, lost {r['lost']}",
              file=sys.stderr, flush=True)
    print(f"{'clients':>8} {'procs':>5} {'connect s':>9} {'ack p50':>8} {'ack p99':>8} {'vote p50':>9} {'vote p99':>9} {'counted':>8} {'lost':>5} {'unconn':>6}")
    for r in rows:
        print(f"{r['clients']:>8} {r['processes']:>5} {r['connect_s']:>9.1f} {r['ack_p50_ms']:>8.1f} {r['ack_p99_ms']:>8.1f} "
              f"{r['vote_p50_ms']:>9.1f} {r['vote_p99_ms']:>9.1f} {r['counted']:>8} {r['lost']:>5} {r['unconnected']:>6}")
    print("(vote = from a ballot's cast until every client holds a tally that includes it; ms)")
    for r in rows:
        print(f"control clients={r['clients']} vote_p50_ms={r['vote_p50_ms']:.1f} vote_p99_ms={r['vote_p99_ms']:.1f} lost={r['lost']}"
              + (f" unconnected={r['unconnected']}" if r["unconnected"] else ""))


if __name__ == "__main__":
    main()
