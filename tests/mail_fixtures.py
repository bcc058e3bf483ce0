"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and a rooms.toml whose
`[mail]` section points at it."""
from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import SAMPLE_ROOMS
from tests.ports import free_port


@dataclass
class Inbox:
    """Handler of aiosmtpd: every message received, parsed, in order."""

    messages: list[Message] = field(default_factory=list)
    refuse: bool = False  # answer 451 to every message (a mail server in trouble)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        with self._arrived:
            self.messages.append(email.message_from_bytes(envelope.content))
            self._arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} messages, received {len(self.messages)}")
                self._arrived.wait(left)
            return list(self.messages)


def _part(message: Message, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError(f"no {content_type} part")


def calendar_of(message: Message) -> str:
    """The text/calendar attachment of an invitation."""
    return _part(message, "text/calendar")


def body_of(message: Message) -> str:
    return _part(message, "text/plain")


def start_smtp() -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, inbox


def rooms_with_mail(directory: Path, port: int, retry: str = "[1, 1]") -> Path:
    path = directory / "rooms.toml"
    path.write_text(
        SAMPLE_ROOMS.read_text(encoding="utf-8")
        + f'\n[mail]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\n'
        + f'sender = "Văn phòng UBND tỉnh <hoinghi@quangninh.gov.vn>"\nretry_seconds = {retry}\n',
        encoding="utf-8",
    )
    return path
