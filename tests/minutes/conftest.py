"""Fixtures for the minutes: a test CA on disk, its TSA and CRL served on loopback, a sample
record, SoftHSM2 tokens, and pdfsig (poppler) as the independent verifier."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from meetings.minutes import keys, testca
from meetings.minutes.record import ItemRecord, MeetingRecord, Person, PointRecord, TextSegment, TurnRecord, VoteRecord
from tests.ports import free_port
from web.pki import create_pki_app

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
ORG = "Ủy ban nhân dân tỉnh Quảng Ninh"
ACCOUNTS = [testca.AccountKey("thuky", "Phạm Thu Hà", "Chánh Văn phòng"),
            testca.AccountKey("chutoa", "Nguyễn Văn Ánh", "Chủ tịch"),
            testca.AccountKey("vanthu", "Đỗ Thị Lụa", "Văn thư")]


@dataclass
class LocalCA:
    directory: Path
    port: int
    config: keys.SigningConfig

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}/crl/root.crl"

    @property
    def root(self) -> testca.Issued:
        return testca.load(self.directory / "ca", "root")


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    directory = tmp_path_factory.mktemp("ca")
    port = free_port()
    testca.init_ca(directory, ORG, ACCOUNTS, f"http://127.0.0.1:{port}")
    return LocalCA(directory, port, keys.load_signing_config(directory / "signing.toml"))


@pytest.fixture
async def pki(test_ca: LocalCA) -> AsyncIterator[web.Application]:
    """The CA's timestamp service and CRL, on the port its certificates name."""
    app = create_pki_app(test_ca.directory / "ca")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", test_ca.port, reuse_address=True)
    await site.start()
    try:
        yield app
    finally:
        await runner.cleanup()


def sample_record(points: int = 6, members: int = 30) -> tuple[MeetingRecord, list[TextSegment]]:
    """A small meeting record built in memory (the database path has its own test)."""
    t0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    pts = [PointRecord("ubnd-tinh", "Hội trường Ủy ban nhân dân tỉnh", "province", "main", True, 12)]
    pts += [PointRecord(f"xa-{i}", f"Điểm cầu UBND xã số {i}", "commune", "end", True, 3) for i in range(points - 1)]
    turn = TurnRecord("account:7", Person("Trần Thị Bích Ngọc", "Giám đốc Sở Tài chính"), "", "ngân sách",
                      t0 + timedelta(minutes=10), t0 + timedelta(minutes=15))
    segments = [TextSegment("account:7", 1, t0 + timedelta(minutes=11), t0 + timedelta(minutes=12),
                            "thu ngân sách năm nay đạt một trăm mười hai phần trăm dự toán")]
    result = {"title": "Thông qua báo cáo", "secret": False, "total_members": members, "yes": 20, "no": 3,
              "abstain": 1, "participated": 24, "quorum": 20, "quorum_met": True, "passed": True,
              "by_point": [{"point_id": None, "name": "", "eligible": 24, "ballots": 24, "hand_seats": 0,
                            "hands": None, "counts": {"yes": 20, "no": 3, "abstain": 1}}]}
    item = ItemRecord(1, "Báo cáo tình hình kinh tế - xã hội", "Đồng chí Lê Văn Hùng, Phó Chủ tịch", t0,
                      t0 + timedelta(hours=1), [turn], [VoteRecord("x", t0 + timedelta(minutes=30), result)],
                      "Thống nhất thông qua báo cáo.")
    record = MeetingRecord(
        1, "Phiên họp thường kỳ tháng 12 năm 2026", "Tỉnh Quảng Ninh", ORG, "", t0, t0, t0 + timedelta(hours=2),
        Person("Nguyễn Văn Ánh", "Chủ tịch UBND tỉnh"), Person("Phạm Thu Hà", "Chánh Văn phòng"), pts, members,
        [Person("Đỗ Đức Dũng")], [Person("Vũ Thị Ơn")], {}, [item],
    )
    return record, segments


def pdfsig(pdf: bytes, tmp_path: Path) -> list[dict[str, str]]:
    """pdfsig's findings per signature. It exits 0 even on a digest mismatch: read its text."""
    path = tmp_path / "pdfsig-input.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60).stdout
    found: list[dict[str, str]] = []
    for line in out.splitlines():
        if re.match(r"^Signature #\d+:", line):
            found.append({})
        elif found and (m := re.match(r"^\s+- ([^:]+): (.*)$", line)):
            found[-1][m.group(1)] = m.group(2)
        elif found and line.strip() in ("- Total document signed", "- Not total document signed"):
            found[-1]["coverage"] = "total" if line.strip().startswith("- Total") else "partial"
        elif found and line.strip():
            found[-1].setdefault("note", line.strip())
    return found


@dataclass
class Token:
    module: Path
    label: str
    pin_file: Path
    env: dict[str, str]


@pytest.fixture
def softhsm_token(tmp_path: Path, test_ca: LocalCA, monkeypatch: pytest.MonkeyPatch) -> Iterator[Token]:
    """A SoftHSM2 token in a temporary directory holding the chair's key and certificate."""
    if not SOFTHSM.exists() or shutil.which("pkcs11-tool") is None:
        pytest.skip("softhsm2 / opensc not installed")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    pin, label = "123456", "chutoa"
    tool = ["pkcs11-tool", "--module", str(SOFTHSM)]
    subprocess.run(tool + ["--init-token", "--slot", "0", "--label", label, "--so-pin", "87654321"], check=True,
                   env=env, capture_output=True)
    subprocess.run(tool + ["--token-label", label, "--login", "--so-pin", "87654321", "--init-pin", "--pin", pin],
                   check=True, env=env, capture_output=True)
    issued = testca.issue(test_ca.root, "Nguyễn Văn Ánh", crl_url=test_ca.crl_url, organisation=ORG, title="Chủ tịch")
    key_der = tmp_path / "key.der"
    key_der.write_bytes(issued.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    cert_der = tmp_path / "cert.der"
    cert_der.write_bytes(issued.certificate.public_bytes(serialization.Encoding.DER))
    for kind, path in (("privkey", key_der), ("cert", cert_der)):
        subprocess.run(tool + ["--token-label", label, "--login", "--pin", pin, "--write-object", str(path),
                               "--type", kind, "--label", label, "--id", "01"], check=True, env=env, capture_output=True)
    key_der.unlink()
    pin_file = tmp_path / "pin"
    pin_file.write_text(pin)
    yield Token(SOFTHSM, label, pin_file, env)


async def in_thread(make_coro):  # type: ignore[no-untyped-def]
    """pyHanko's coroutines as the server runs them: in an executor thread with its own event
    loop, so this loop stays free to serve the TSA and the CRL."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: asyncio.run(make_coro()))
