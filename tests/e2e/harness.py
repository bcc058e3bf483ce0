"""A real `hoinghi serve` process with its own rooms.toml, database and accounts, and the
Chromium flags of docs/architecture.md ("Browser tests"). Used by the browser tests; stops everything it starts."""
from __future__ import annotations

import asyncio
import math
import os
import signal
import ssl
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from meetings.accounts import add_account
from meetings.config import load_rooms_config
from meetings.config_sync import sync_rooms_config
from meetings.db import create_engine, session_factory, sqlite_url, upgrade_schema
from meetings.meetings_service import create_meeting
from meetings.point_tokens import hash_point_token, new_point_token
from tests.conftest import REPO
from tests.ports import free_port

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "mật khẩu thử nghiệm 2026"
TONE_HZ = 440.0


def chromium_args(wav: Path) -> list[str]:
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--auto-select-desktop-capture-source=Entire screen",
        "--allow-loopback-in-peer-connection",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ]


def write_tone_wav(path: Path, hz: float = TONE_HZ, seconds: float = 2.0, rate: int = 48000) -> Path:
    """A sine tone (the fake microphone loops it): easy to find in a spectrum at the far end."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        frames += struct.pack("<h", int(0.5 * 32767 * math.sin(2 * math.pi * hz * i / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


@dataclass
class Person:
    username: str
    name: str
    role: str
    id: int = 0


@dataclass
class Deployment:
    root: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"  # another address serves HTTPS with the server's self-signed certificate
    people: list[Person] = field(default_factory=lambda: [
        Person("chutoa", "Nguyễn Văn An", "chair"),
        Person("thuky", "Trần Thị Bình", "secretary"),
        Person("daibieu", "Lê Văn Cường", "delegate"),
    ])
    point_tokens: dict[str, str] = field(default_factory=dict)
    thumbnails: int | None = None  # the room's rooms.toml setting (large meetings); None: default
    serve_args: list[str] = field(default_factory=list)  # more options of `hoinghi serve`
    db_url: str | None = None  # another database (e.g. the `database_url` fixture's PostgreSQL); None: SQLite in root
    meeting_id: int = 0
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        scheme = "http" if self.host == "127.0.0.1" else "https"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def certificate(self) -> Path:
        """The self-signed certificate the server made for a non-loopback address."""
        return self.root / "data" / "tls" / "cert.pem"

    @property
    def config_path(self) -> Path:
        return self.root / "rooms.toml"

    @property
    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.root / "hoinghi.sqlite3")

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.point_tokens = {"hoi-truong": new_point_token(), "xa-a": new_point_token()}
        self.config_path.write_text(f"""
[province]
id = "thu-nghiem"
name = "Tỉnh Thử Nghiệm"
agency = "ỦY BAN NHÂN DÂN TỈNH THỬ NGHIỆM"

[[points]]
id = "hoi-truong"
name = "Hội trường UBND tỉnh"
level = "province"
role = "main"
token_hash = "{hash_point_token(self.point_tokens['hoi-truong'])}"

[[points]]
id = "xa-a"
name = "Điểm cầu xã A"
level = "commune"
role = "end"
token_hash = "{hash_point_token(self.point_tokens['xa-a'])}"

[[rooms]]
id = "phong-hop"
name = "Phòng họp trực tuyến"
points = ["hoi-truong", "xa-a"]
{"" if self.thumbnails is None else f"thumbnails = {self.thumbnails}"}

[network]
ice_servers = []
""", encoding="utf-8")
        asyncio.run(self._seed())

    async def _seed(self) -> None:
        engine = create_engine(self.database_url)
        try:
            await upgrade_schema(engine)
            sessions = session_factory(engine)
            async with sessions() as session:
                await sync_rooms_config(session, load_rooms_config(self.config_path))
                for person in self.people:
                    account = await add_account(session, person.username, person.role, PASSWORD, person.name)
                    person.id = account.id
                chair, secretary, *delegates = self.people  # everyone after the secretary is a delegate
                self.meeting_id = await create_meeting(
                    session, room_id="phong-hop", title="Họp thử nghiệm trực tuyến",
                    scheduled_start=datetime.now(timezone.utc), chair_id=chair.id, secretary_id=secretary.id,
                    delegates=[(delegate.id, None) for delegate in delegates],
                )
        finally:
            await engine.dispose()

    def start(self, log_name: str | None = None) -> None:
        assert self.process is None
        self.starts += 1
        log = open(self.root / (log_name or f"server-{self.starts}.log"), "wb")
        env = dict(os.environ, HOINGHI_LANG="vi", PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--config", str(self.config_path), "--db", self.database_url,
             "--data-dir", str(self.root / "data"), "--host", self.host, "--port", str(self.port), *self.serve_args],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"hoinghi serve exited with {self.process.returncode}; see {log.name}")
            try:
                unverified = ssl._create_unverified_context()  # the certificate is the server's own
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2, context=unverified) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hoinghi serve did not answer /healthz within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def serving(deployment: Deployment) -> Iterator[Deployment]:
    """Prepare and start a deployment for a test, and stop it whatever the test did (yield from it)."""
    deployment.prepare()
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()
