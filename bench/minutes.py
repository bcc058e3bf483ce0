"""Minutes benchmark: a 3-hour meeting (2,000 transcript segments, 20 votes, 60 bridge points)
-> draft -> PDF -> secretary's and chair's PAdES signatures, written to --out.

The work runs as the server runs it (web/minutes/work.py: in a worker process) while a
ticker on the event loop measures how late it wakes (`loop_max_lag_ms`; target: 20 ms at most).
Same-run baseline: the same pipeline on the event loop itself (`inline_lag_ms`, what a server
doing it inline would stall), and `lag_ratio` = loop_max_lag_ms / inline_lag_ms. Two
configurations: `b-b` (signatures only) and `b-lt` (timestamps from the test CA's TSA, and
embedded revocation data; `hoinghi ca serve` in its own process, as a real TSA is elsewhere).
`idle_lag_ms`: the same ticker on an idle loop for as long, i.e. what the shared machine's own
scheduling costs. Target: seconds <= 3 on this machine.

    .venv/bin/python bench/minutes.py [--out FILE.pdf]

One line per configuration: `minutes config=.. seconds=.. pages=.. draft_s=.. render_s=..
sign_s=.. loop_max_lag_ms=.. inline_lag_ms=.. lag_ratio=.. idle_lag_ms=..`
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from meetings.minutes import jobs, keys, pades, testca  # noqa: E402
from meetings.minutes.document import MinutesDocument  # noqa: E402
from meetings.minutes.drafting import draft  # noqa: E402
from meetings.minutes.record import (  # noqa: E402
    ItemRecord, MeetingRecord, Person, PointRecord, TextSegment, TurnRecord, VoteRecord,
)
from meetings.minutes.render import render  # noqa: E402
from web.minutes.work import MinutesWork  # noqa: E402

POINTS, SEGMENTS, VOTES, ITEMS, TURNS = 60, 2000, 20, 12, 120
WORDS = ("ngân sách đầu tư công trình giao thông nông thôn mới chuyển đổi số y tế giáo dục "
         "xã phường kế hoạch năm tỉnh đề nghị thống nhất báo cáo tiến độ giải ngân vốn").split()


def meeting_record() -> tuple[MeetingRecord, list[TextSegment]]:
    t0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    points = [PointRecord("ubnd-tinh", "Hội trường Ủy ban nhân dân tỉnh", "province", "main", True, 45)]
    points += [PointRecord(f"xa-{i:02}", f"Điểm cầu UBND xã số {i}", "commune", "end", True, 8) for i in range(1, POINTS)]
    turn_s = 3 * 3600 / TURNS
    turns = [TurnRecord(f"account:{100 + n}", Person(f"Đại biểu Nguyễn Văn {n}", "Giám đốc Sở"), "", "",
                        t0 + timedelta(seconds=n * turn_s), t0 + timedelta(seconds=(n + 1) * turn_s - 5))
             for n in range(TURNS)]
    per_turn = SEGMENTS // TURNS + 1
    segments = []
    for n in range(SEGMENTS):
        turn = turns[min(n // per_turn, TURNS - 1)]
        start = turn.start + timedelta(seconds=(n % per_turn) * 5)
        segments.append(TextSegment(turn.speaker_key, None, start, start + timedelta(seconds=4),
                                    " ".join(WORDS[(n + k) % len(WORDS)] for k in range(14))))
    votes = []
    for v in range(VOTES):
        by_point = [{"point_id": None, "name": "", "eligible": 20, "ballots": 19, "hand_seats": 0, "hands": None,
                     "counts": {"yes": 15, "no": 3, "abstain": 1}}]
        by_point += [{"point_id": p.id, "name": p.name, "eligible": 0, "ballots": 0, "hand_seats": 8,
                      "hands": {"yes": 6, "no": 1, "abstain": 1}, "counts": {"yes": 6, "no": 1, "abstain": 1}}
                     for p in points[1:]]
        yes, no, abstain = 15 + 6 * 59, 3 + 59, 1 + 59
        votes.append(VoteRecord(f"Biểu quyết số {v + 1}", t0 + timedelta(minutes=8 * v + 4), {
            "title": f"Thông qua nội dung số {v + 1}", "secret": False, "total_members": 500, "yes": yes, "no": no,
            "abstain": abstain, "participated": yes + no + abstain, "quorum": 334, "quorum_met": True,
            "passed": yes >= 251, "by_point": by_point}))
    items = []
    for i in range(ITEMS):
        lo, hi = i * TURNS // ITEMS, (i + 1) * TURNS // ITEMS
        items.append(ItemRecord(i + 1, f"Nội dung {i + 1}: báo cáo và thảo luận", "Đồng chí Phó Chủ tịch UBND tỉnh",
                                turns[lo].start, turns[hi - 1].end, turns[lo:hi],
                                [v for n, v in enumerate(votes) if n * ITEMS // VOTES == i], "Thống nhất thông qua."))
    record = MeetingRecord(
        1, "Hội nghị trực tuyến tổng kết năm 2026", "Tỉnh Quảng Ninh", "Ủy ban nhân dân tỉnh Quảng Ninh", "", t0, t0,
        t0 + timedelta(hours=3), Person("Nguyễn Văn Ánh", "Chủ tịch UBND tỉnh"), Person("Phạm Thu Hà", "Chánh Văn phòng"),
        points, 500, [], [], {}, items,
    )
    return record, segments


class LagMeter:
    """A 1 ms ticker on the event loop: the worst lateness is how long the loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, loop.time() - before - 0.001)

    def __enter__(self) -> "LagMeter":
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def pipeline(work: MinutesWork, config: keys.SigningConfig, record, segments):  # type: ignore[no-untyped-def]
    from meetings.minutes.service import Turn

    t0 = time.perf_counter()
    doc = MinutesDocument.from_json(await work.run(jobs.draft_job, record, segments))
    t1 = time.perf_counter()
    sha, pages = await work.render(doc, with_seal=False)
    t2 = time.perf_counter()
    for role, user, who in (("secretary", "thuky", record.secretary), ("chair", "chutoa", record.chair)):
        sha = await work.sign_on_server(Turn(1, role, None, sha), config.keys[user],
                                        pades.Signatory(role, who.name, who.position))
    t3 = time.perf_counter()
    return sha, pages, t1 - t0, t2 - t1, t3 - t2


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the signed PDF of the last configuration here")
    args = parser.parse_args()
    record, segments = meeting_record()
    with tempfile.TemporaryDirectory(prefix="hn-bench-minutes-") as tmp:
        data = Path(tmp)
        port = 18079 + (int(time.time()) % 1000)
        testca.init_ca(data / "signing", record.agency, [testca.AccountKey("thuky", "Phạm Thu Hà", "Chánh Văn phòng"),
                                                         testca.AccountKey("chutoa", "Nguyễn Văn Ánh", "Chủ tịch")],
                       f"http://127.0.0.1:{port}")
        pki = subprocess.Popen([sys.executable, "-m", "web.cli", "ca", "serve", "--dir", str(data / "signing"),
                                "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL)
        await wait_for_port(port)
        toml = data / "signing" / "signing.toml"
        with_tsa = toml.read_text(encoding="utf-8")
        print(f"{'config':6} {'seconds':>8} {'pages':>5} {'draft_s':>8} {'render_s':>8} {'sign_s':>7} "
              f"{'lag_ms':>7} {'inline_ms':>9}")
        try:
            for name, text in (("b-b", "\n".join(l for l in with_tsa.splitlines() if not l.startswith("tsa_url"))),
                               ("b-lt", with_tsa)):
                toml.write_text(text, encoding="utf-8")
                work = MinutesWork(data)
                config = work.signing_config()
                assert config is not None
                await pipeline(work, config, record, segments)  # warm-up: fonts, imports
                with LagMeter() as meter:
                    start = time.perf_counter()
                    sha, pages, draft_s, render_s, sign_s = await pipeline(work, config, record, segments)
                    seconds = time.perf_counter() - start
                    await asyncio.sleep(0.01)
                with LagMeter() as idle:
                    await asyncio.sleep(seconds)
                with LagMeter() as baseline:
                    await asyncio.sleep(0.005)
                    await inline_on_loop(work, config, record, segments)
                    await asyncio.sleep(0.01)
                work.close()
                print(f"{name:6} {seconds:8.2f} {pages:5} {draft_s:8.2f} {render_s:8.2f} {sign_s:7.2f} "
                      f"{meter.worst * 1000:7.1f} {baseline.worst * 1000:9.1f}")
                print(f"minutes config={name} seconds={seconds:.2f} pages={pages} draft_s={draft_s:.2f} "
                      f"render_s={render_s:.2f} sign_s={sign_s:.2f} loop_max_lag_ms={meter.worst * 1000:.1f} "
                      f"inline_lag_ms={baseline.worst * 1000:.1f} lag_ratio={meter.worst / baseline.worst:.3f} "
                      f"idle_lag_ms={idle.worst * 1000:.1f}")
                if args.out:
                    args.out.write_bytes(work.store.get(sha))
        finally:
            pki.terminate()
            pki.wait(timeout=10)


async def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def inline_on_loop(work: MinutesWork, config: keys.SigningConfig, record, segments) -> None:  # type: ignore[no-untyped-def]
    """The baseline pipeline on the loop: draft and render block it; pyHanko's coroutines are
    awaited here too (the TSA, served by this same loop, can still answer)."""
    doc = draft(record, segments)
    rendered = render(doc)
    pdf = pades.add_fields(rendered.pdf, rendered.boxes, False)
    trust = pades.Trust(config.trust_roots, config.tsa_url)
    for role, user, who in (("secretary", "thuky", record.secretary), ("chair", "chutoa", record.chair)):
        with keys.open_signer(config.keys[user], who.name) as signer:
            pdf = await pades.sign_local(pdf, pades.Signatory(role, who.name, who.position), signer, trust)


if __name__ == "__main__":
    asyncio.run(main())
