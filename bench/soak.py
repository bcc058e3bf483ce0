"""Soak: a long loopback meeting with aiortc peers joining and leaving, votes and speaking turns;
at the end, what the server process kept (not in CI).

    .venv/bin/python bench/soak.py                    # 30 minutes, 20 peers
    .venv/bin/python bench/soak.py --minutes 5        # (or HOINGHI_SOAK_MINUTES=5)

The server (the whole app: control plane, SFU, media signalling) runs in this process on a
SQLite database in a temporary directory; the peers run in a child process (this file with
--peers), each a python-socketio client with an aiortc publish connection (a microphone) and a
subscribe connection to everyone else's, staying 5–25 s, then leaving and coming back. The
chair (in the child too) opens and closes a secret vote every 30 s, every present peer casts,
and gives a 3 s speaking turn to whoever asks, ended by its time limit.

Measured after a warm-up (every peer has joined once) and again at the end once every peer has
left: resident memory (after the collector and malloc_trim, so that free pages glibc keeps do not
count; `untrimmed_rss_growth_pct` is the same before them), asyncio tasks, open descriptors, the SFU's and media hub's session objects still alive,
and the Python object types whose count grew most. One line:
``soak minutes=.. peers=.. joins=.. votes=.. turns=.. errors=.. slowest_answer_ms=.. casts_unanswered=..
rss_start_mb=.. rss_end_mb=.. rss_growth_pct=..
tasks_start=.. tasks_end=.. fds_start=.. fds_end=.. sessions_alive=.. server_errors=..
write_lock_held_max_ms=.. load=..``, then where native memory went, the Python objects' bytes
with nobody in the meeting at the start and at the end (a leak shows there; the rest of the
growth is the allocators' fragmentation), resident memory every tenth of the soak (does it level
off?), the grown object types, the longest-held SQLite write and the server's error log lines by
message.
Targets: rss_growth_pct < 5, tasks_end <= tasks_start, fds_end <= fds_start, sessions_alive=0,
server_errors=0.
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[0] = str(HERE.parent)  # the repository root

PEERS = 20
STAY_S = (5.0, 25.0)
VOTE_EVERY_S = 30.0


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb() -> float:
    """Resident memory after the collector and malloc_trim: what is held, not free pages glibc keeps."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return resident_mb()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def native_mb() -> dict[str, float]:
    """Where resident memory goes outside Python objects: bytes glibc's malloc has handed out
    (all arenas, mmapped blocks included), free bytes it keeps in its arenas, and SQLite's own
    allocations (its page caches, one per pooled connection)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    sqlite = ctypes.CDLL("libsqlite3.so.0")
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    return {"malloc_used": (info.uordblks + info.hblkhd) / 2**20, "malloc_free": info.fordblks / 2**20,
            "sqlite": sqlite.sqlite3_memory_used() / 2**20}


def pymalloc_mb() -> dict[str, float]:
    """Python's small-object allocator: the arenas it holds and the bytes in use in them (a
    fragmented heap holds arenas for few live objects). Read from sys._debugmallocstats, which
    writes to the C stderr."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        stats = out.read().decode()
    arenas = re.search(r"^(\d+) arenas \* (\d+) bytes/arena", stats, re.M)
    used = re.search(r"^# bytes in allocated blocks\s+=\s+([\d,]+)", stats, re.M)
    assert arenas and used, "sys._debugmallocstats changed its format"
    return {"pymalloc_arenas": int(arenas[1]) * int(arenas[2]) / 2**20,
            "pymalloc_used": int(used[1].replace(",", "")) / 2**20}


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def live_sessions() -> Counter[str]:
    """Peer-bound objects of the SFU and the media hub still alive (each should go with its peer)."""
    from aiortc import RTCPeerConnection

    from sfu.downtrack import DownTrack
    from sfu.peer import Peer
    from sfu.publish import PublishSession
    from sfu.subscribe import SubscribeSession
    from web.media.hub import PeerMedia

    kinds = (Peer, PublishSession, SubscribeSession, PeerMedia, RTCPeerConnection, DownTrack)
    return Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds))


# ------------------------------------------------------------------ the server (this process)

class ErrorCount(logging.Handler):
    """The server's error log lines during the soak, by message: a long meeting should have none."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: Counter[str] = Counter()
        self.first_trace: dict[str, str] = {}  # by message: where it was raised (the innermost frames)

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        message = f"{record.getMessage()}: {type(error).__name__ if error else ''} {str(error)[:60]}".strip()
        self.messages[message] += 1
        if error is not None and message not in self.first_trace:
            frames = traceback.extract_tb(error.__traceback__)[-8:]
            self.first_trace[message] = "".join(f"\n      {f.filename}:{f.lineno} {f.name}" for f in frames)


class WriteHolds:
    """How long SQLite's one write lock is held: from a transaction's first write to its end.
    A holder that takes longer than the busy timeout makes every other writer fail."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.longest_ms, self.longest_statement = 0.0, ""
        self._open: dict[int, tuple[float, str]] = {}
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._end)
        event.listen(engine.sync_engine, "rollback", self._end)

    def _statement(self, connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if id(connection) not in self._open and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._open[id(connection)] = (time.perf_counter(), statement[:100].replace("\n", " "))

    def _end(self, connection: Any) -> None:
        started = self._open.pop(id(connection), None)
        if started is not None and (held := 1000 * (time.perf_counter() - started[0])) > self.longest_ms:
            self.longest_ms, self.longest_statement = held, started[1]


async def seed(database_url: str, config_path: Path) -> tuple[int, str, list[tuple[int, str]]]:
    from meetings.accounts import Principal, open_session
    from meetings.config import load_rooms_config
    from meetings.config_sync import sync_rooms_config
    from meetings.db import create_engine, session_factory, upgrade_schema
    from meetings.meetings_service import create_meeting
    from meetings.models import Account

    engine = create_engine(database_url)
    await upgrade_schema(engine)
    async with session_factory(engine)() as session:
        await sync_rooms_config(session, load_rooms_config(config_path))
        accounts = [Account(username=u, display_name=n, role=r, password_hash="!") for u, r, n in
                    [("chutoa", "chair", "Chủ tọa"), ("thuky", "secretary", "Thư ký")]
                    + [(f"daibieu{i}", "delegate", f"Đại biểu {i}") for i in range(PEERS)]]
        session.add_all(accounts)
        await session.commit()
        chair, secretary, *delegates = accounts
        meeting_id = await create_meeting(
            session, room_id="phong-hop-ubnd", title="Họp kiểm tra độ bền", scheduled_start=datetime.now(timezone.utc),
            chair_id=chair.id, secretary_id=secretary.id, delegates=[(d.id, None) for d in delegates])
        chair_cookie = await open_session(session, Principal("account", str(chair.id), chair.display_name, "chair"))
        cookies = [(d.id, await open_session(session, Principal("account", str(d.id), d.display_name, "delegate")))
                   for d in delegates]
    await engine.dispose()
    return meeting_id, chair_cookie, cookies


def heap_growth(limit: int = 12) -> str:
    """Where the memory allocated since the warm-up and still held was allocated (tracemalloc)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")])
    lines = [f"soak heap_held_mb={sum(s.size for s in snapshot.statistics('filename')) / 2**20:.1f} (allocated after the warm-up, still held)"]
    for stat in snapshot.statistics("traceback")[:limit]:
        lines.append(f"  {stat.size / 2**10:8.0f} KiB in {stat.count:6d} blocks")
        lines.extend(f"      {line}" for line in stat.traceback.format(most_recent_first=True)[:12])
    return "\n".join(lines)


async def serve(minutes: float, trace: bool) -> str:
    from aiohttp import web

    from meetings.config import load_rooms_config
    from tests.ports import free_port
    from web.app import create_app
    from web.settings import Settings
    from web.state import STATE

    directory = Path(tempfile.mkdtemp(prefix="hoinghi-soak-"))
    settings = Settings.build(config_path=HERE.parent / "rooms.toml", data_dir=directory / "data",
                              database_url=f"sqlite+aiosqlite:///{directory / 'soak.sqlite3'}", port=free_port())
    meeting_id, chair_cookie, cookies = await seed(settings.database_url, settings.config_path)
    app = create_app(settings, load_rooms_config(settings.config_path))
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    holds = WriteHolds(app[STATE].engine)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    plan = directory / "plan.json"
    plan.write_text(json.dumps({"url": settings.base_url, "meeting_id": meeting_id, "chair": chair_cookie,
                                "peers": cookies, "seconds": minutes * 60}))
    idle_start = pymalloc_mb()["pymalloc_used"]  # the Python objects of a server nobody has joined yet
    child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--peers", str(plan),
                                                 stdout=subprocess.PIPE)
    trajectory: list[str] = []

    async def sample() -> None:  # whether memory levels off or keeps climbing: every tenth of the soak
        began = time.monotonic()
        while True:
            await asyncio.sleep(minutes * 6)
            heap = pymalloc_mb()
            trajectory.append(f"{(time.monotonic() - began) / 60:.1f}m:{resident_mb():.0f}/"
                              f"{heap['pymalloc_arenas']:.0f}/{heap['pymalloc_used']:.0f}")

    sampling = asyncio.ensure_future(sample())
    start: dict[str, Any] = {}
    objects_start: Counter[str] = Counter()
    assert child.stdout is not None
    report: dict[str, Any] = {}
    async for line in child.stdout:
        message = json.loads(line)
        if message.get("warm") and not start:
            await asyncio.sleep(2)
            gc.collect()
            start = {"raw": resident_mb(), "rss": rss_mb(), "tasks": len(asyncio.all_tasks()), "fds": descriptors(),
                     **native_mb(), **pymalloc_mb()}
            objects_start = Counter(type(o).__name__ for o in gc.get_objects())
            if trace:
                tracemalloc.start(16)
        if "done" in message:
            report = message
    await child.wait()
    sampling.cancel()
    await asyncio.sleep(5)  # the last leaves' broadcasts and hooks
    gc.collect()
    end = {"raw": resident_mb(), "rss": rss_mb(), "tasks": len(asyncio.all_tasks()), "fds": descriptors(),
           **native_mb(), **pymalloc_mb()}
    alive = live_sessions()
    grown = (Counter(type(o).__name__ for o in gc.get_objects()) - objects_start).most_common(8)
    holders = describe_holders() if alive else ""
    heap = heap_growth() if trace else ""
    await runner.cleanup()
    load = os.getloadavg()
    growth = 100 * (end["rss"] - start["rss"]) / start["rss"]
    line = (f"soak minutes={minutes:g} peers={PEERS} joins={report.get('joins', 0)} votes={report.get('votes', 0)} "
            f"turns={report.get('turns', 0)} errors={report.get('errors', 0) if report else 'no_report'} "
            f"slowest_answer_ms={report.get('slowest_answer_ms', 0)} casts_unanswered={report.get('casts_unanswered', 0)} "
            f"rss_start_mb={start['rss']:.1f} rss_end_mb={end['rss']:.1f} "
            f"rss_growth_pct={growth:.1f} untrimmed_rss_growth_pct={100 * (end['raw'] - start['raw']) / start['raw']:.1f} "
            f"tasks_start={start['tasks']} tasks_end={end['tasks']} "
            f"fds_start={start['fds']} fds_end={end['fds']} sessions_alive={sum(alive.values())} "
            f"server_errors={sum(errors.messages.values())} write_lock_held_max_ms={holds.longest_ms:.0f} "
            f"load={load[0]:.1f},{load[1]:.1f},{load[2]:.1f}\n"
            f"soak native_mb " + " ".join(f"{k}={start[k]:.1f}->{end[k]:.1f}" for k in ("malloc_used", "malloc_free", "sqlite", "pymalloc_arenas", "pymalloc_used"))
            + "\n"
            f"soak idle_python_objects_mb start={idle_start:.1f} end={end['pymalloc_used']:.1f} (nobody joined / everybody left)\n"
            f"soak trajectory (minute:resident/pymalloc arenas/in use, MB) {' '.join(trajectory)}\n"
            f"soak objects_grown={','.join(f'{name}:{n}' for name, n in grown) or 'none'}\n"
            f"soak longest_write={holds.longest_statement!r}"
            + "".join(f"\nsoak error x{n}: {message}{errors.first_trace.get(message, '')}"
                      for message, n in errors.messages.most_common(8)))
    return line + (f"\n{dict(alive)}\n{holders}" if alive else "") + (f"\n{heap}" if heap else "")


def describe_holders() -> str:
    """Who keeps a left peer's objects alive: the referrers of one survivor, two levels up."""
    from aiortc import RTCPeerConnection

    from sfu.peer import Peer
    from sfu.publish import PublishSession
    from sfu.subscribe import SubscribeSession

    survivors = [o for o in gc.get_objects() if isinstance(o, (Peer, PublishSession, SubscribeSession, RTCPeerConnection))]
    if not survivors:
        return ""
    lines = []
    for first in gc.get_referrers(survivors[0]):
        if first is survivors:
            continue
        lines.append(f"  {type(first).__name__}: {str(first)[:120]}")
        for second in gc.get_referrers(first)[:3]:
            lines.append(f"    <- {type(second).__name__}: {str(second)[:120]}")
    return "\n".join(lines[:30])


# ------------------------------------------------------------------ the peers (child process)

class Member:
    def __init__(self, url: str, cookie: str, meeting_id: int) -> None:
        import socketio

        self.url, self.cookie, self.meeting_id = url, cookie, meeting_id
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pcs: list[Any] = []
        self.subscriber: Any = None
        self.tracks: list[str] = []
        self.sio.on("media:offer", self._offer)
        self.sio.on("media:tracks", self._tracks)

    slowest_ms = 0.0  # the longest any member waited for an answer that came (shared by all members)

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        answer = await self.sio.call(event, {"meeting_id": self.meeting_id, **payload}, timeout=30)
        Member.slowest_ms = max(Member.slowest_ms, 1000 * (time.perf_counter() - started))
        return answer

    async def enter(self, media: bool = True) -> None:
        await self.sio.connect(self.url, headers={"Cookie": f"hoinghi_session={self.cookie}"},
                               transports=["websocket"], wait_timeout=20)
        assert (await self.call("join_meeting", {}))["ok"]
        if media:
            await self._media()

    async def _media(self) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        from aiortc.mediastreams import AudioStreamTrack

        joined = await self.call("media:join", {})
        publish = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(publish)
        publish.addTransceiver(AudioStreamTrack(), direction="sendonly")
        await publish.setLocalDescription(await publish.createOffer())
        answer = await self.call("media:publish", {"sdp": publish.localDescription.sdp,
                                                   "sources": {publish.getTransceivers()[0].mid: "microphone"}})
        await publish.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        self.subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(self.subscriber)

        @self.subscriber.on("track")
        def drain(track: Any) -> None:
            async def pull() -> None:
                try:
                    while True:
                        await track.recv()
                except Exception:
                    return

            asyncio.ensure_future(pull())

        await self._subscribe([t["track_id"] for t in joined["tracks"]])

    async def _subscribe(self, track_ids: list[str]) -> None:
        ack = await self.call("media:subscribe", {"track_ids": track_ids})
        if ack.get("ok") and ack.get("offer"):
            await self._answer(ack["offer"]["sdp"])

    async def _answer(self, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        if self.subscriber is None:
            return
        await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        await self.call("media:answer", {"sdp": self.subscriber.localDescription.sdp})

    async def _offer(self, message: dict[str, Any]) -> None:
        try:
            await self._answer(message["sdp"])
        except Exception:
            pass  # the connection is going away

    async def _tracks(self, message: dict[str, Any]) -> None:
        mine = self.sio.get_sid()
        wanted = [t["track_id"] for t in message.get("tracks", []) if t.get("peer_id") != mine]
        if self.subscriber is not None and wanted != self.tracks:
            self.tracks = wanted
            try:
                await self._subscribe(wanted)
            except Exception:
                pass

    async def leave(self) -> None:
        for pc in self.pcs:
            await pc.close()
        self.pcs, self.subscriber, self.tracks = [], None, []
        if self.sio.connected:
            await self.sio.disconnect()


async def run_peers(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    url, meeting_id, seconds = plan["url"], plan["meeting_id"], plan["seconds"]
    stop_at = time.monotonic() + seconds
    counts: Counter[str] = Counter()
    present: dict[int, Member] = {}
    chair = Member(url, plan["chair"], meeting_id)
    await chair.enter(media=False)
    assert (await chair.call("meeting_open", {}))["ok"]
    rng = random.Random(14)
    first_round: set[int] = set()

    def say(**message: Any) -> None:
        print(json.dumps(message), flush=True)

    async def peer(account: int, cookie: str) -> None:
        while time.monotonic() < stop_at:
            member = Member(url, cookie, meeting_id)
            try:
                await member.enter()
                present[account] = member
                counts["joins"] += 1
                first_round.add(account)
                if len(first_round) == PEERS and not counts["warm"]:
                    counts["warm"] = 1
                    say(warm=True)
                if rng.random() < 0.2:
                    await member.call("speak_request", {"topic": "Ý kiến"})
                await asyncio.sleep(min(rng.uniform(*STAY_S), max(0.0, stop_at - time.monotonic())))
            except Exception as error:
                counts["errors"] += 1
                say(error=repr(error)[:200])
            finally:
                present.pop(account, None)
                await member.leave()
            await asyncio.sleep(rng.uniform(0.5, 3.0))

    async def chairing() -> None:
        while time.monotonic() < stop_at:
            await asyncio.sleep(min(VOTE_EVERY_S, max(0.0, stop_at - time.monotonic())))
            if time.monotonic() >= stop_at:
                break
            try:
                await one_vote()
            except Exception as error:  # (a timeout, say): counted and told, and the soak goes on
                counts["errors"] += 1
                say(error=f"chair: {error!r}"[:200])

    async def one_vote() -> None:
        opened = await chair.call("vote_open", {"title": f"Biểu quyết {counts['votes'] + 1}", "secret": True})
        if not opened.get("ok"):
            return
        vote_id = opened["vote"]["id"]
        casts = await asyncio.gather(*(m.call("vote_cast", {"vote_id": vote_id, "choice": rng.choice(("yes", "no"))})
                                       for m in list(present.values()) if m.sio.connected), return_exceptions=True)
        counts["casts_unanswered"] += sum(isinstance(c, Exception) for c in casts)  # (the voter left meanwhile)
        if (await chair.call("vote_close", {"vote_id": vote_id})).get("ok"):
            counts["votes"] += 1
        state = await chair.call("control_state", {})
        queue = state.get("speakers", {}).get("queue", [])
        if queue and state["speakers"].get("floor") is None:
            granted = await chair.call("speak_grant", {"request_id": queue[0]["id"], "time_limit_s": 3})
            counts["turns"] += bool(granted.get("ok"))

    await asyncio.gather(chairing(), *(peer(a, c) for a, c in plan["peers"]))
    await chair.leave()
    say(done=True, slowest_answer_ms=round(Member.slowest_ms), **counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("HOINGHI_SOAK_MINUTES", "30")))
    parser.add_argument("--trace", action="store_true",
                        help="also print where the memory held at the end was allocated (tracemalloc; slower)")
    parser.add_argument("--peers", help=argparse.SUPPRESS)  # the child: run the peers of this plan
    args = parser.parse_args()
    if args.peers:
        asyncio.run(run_peers(args.peers))
        return
    print(asyncio.run(serve(args.minutes, args.trace)), flush=True)


if __name__ == "__main__":
    main()
