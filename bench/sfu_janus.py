"""Janus 1.1.2 (Debian package) as the benchmark's baseline: configured in a temporary
folder, HTTP API on 127.0.0.1 only, ICE only on the one local interface aioice uses, every
plugin and transport but VideoRoom and HTTP disabled; plus a small async client for its API.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
ROOM = 4242


def available() -> bool:
    return shutil.which("janus") is not None and (LIB / "plugins/libjanus_videoroom.so").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JanusServer:
    """Starts and stops one Janus process with its own configuration folder."""

    def __init__(self, folder: Path, ice_address: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/janus"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config(ice_address)

    def _write_config(self, ice_address: str) -> None:
        plugins = sorted(p.name for p in (LIB / "plugins").glob("libjanus_*.so")
                         if p.name != "libjanus_videoroom.so")
        transports = sorted(p.name for p in (LIB / "transports").glob("libjanus_*.so")
                            if p.name != "libjanus_http.so")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "janus.jcfg").write_text(f"""
general: {{
    configs_folder = "{self.folder}"
    plugins_folder = "{LIB / 'plugins'}"
    transports_folder = "{LIB / 'transports'}"
    events_folder = "{LIB / 'events'}"
    loggers_folder = "{LIB / 'loggers'}"
    debug_level = 2
    session_timeout = 120
    server_name = "hoinghi-bench"
}}
media: {{
    rtp_port_range = "30000-39999"
}}
nat: {{
    ice_enforce_list = "{ice_address}"
    ignore_mdns = true
}}
plugins: {{
    disable = "{','.join(plugins)}"
}}
transports: {{
    disable = "{','.join(transports)}"
}}
events: {{
    broadcast = false
}}
""")
        (self.folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
        (self.folder / "janus.transport.http.jcfg").write_text(f"""
general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {self.port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
}}
""")

    def start(self) -> int:
        log = open(self.folder / "janus.log", "wb")
        self.process = subprocess.Popen(
            ["janus", "-F", str(self.folder), "-C", str(self.folder / "janus.jcfg"), "-o"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited; see {self.folder / 'janus.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self.process.pid
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("janus did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class JanusSession:
    """One Janus API session over HTTP with a long-poll task dispatching async events."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self._http = http
        self._url = url
        self._session_url = ""
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._ids = itertools.count()

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body["transaction"] = f"t{next(self._ids)}-{secrets.token_hex(4)}"
        async with self._http.post(url, json=body) as response:
            reply = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply['error']}")
        return reply

    async def create(self) -> None:
        reply = await self._post(self._url, {"janus": "create"})
        self._session_url = f"{self._url}/{reply['data']['id']}"
        self._poller = asyncio.ensure_future(self._poll())

    async def attach(self) -> str:
        reply = await self._post(self._session_url,
                                 {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        return f"{self._session_url}/{reply['data']['id']}"

    async def request(self, handle: str, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create, listparticipants …): its plugin data."""
        reply = await self._post(handle, {"janus": "message", "body": body})
        return reply["plugindata"]["data"]

    async def message(self, handle: str, body: dict[str, Any],
                      jsep: dict[str, str] | None = None) -> dict[str, Any]:
        """An asynchronous request: waits for its event (with its jsep, if any)."""
        payload: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        payload["transaction"] = transaction = f"t{next(self._ids)}-{secrets.token_hex(4)}"
        future = asyncio.get_running_loop().create_future()
        self._waiters[transaction] = future
        async with self._http.post(handle, json=payload) as response:
            reply = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply['error']}")
        return await asyncio.wait_for(future, 30)

    async def _poll(self) -> None:
        while True:
            try:
                async with self._http.get(f"{self._session_url}?maxev=10") as response:
                    events = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.2)
                continue
            for event in events if isinstance(events, list) else [events]:
                waiter = self._waiters.pop(event.get("transaction", ""), None)
                if waiter is not None and not waiter.done() and event.get("janus") == "event":
                    waiter.set_result(event)
                elif waiter is not None and not waiter.done():
                    self._waiters[event["transaction"]] = waiter  # an ack: wait on

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._session_url:
            try:
                await self._post(self._session_url, {"janus": "destroy"})
            except (aiohttp.ClientError, RuntimeError):
                pass
