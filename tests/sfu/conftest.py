"""Fixtures for the SFU tests: an Sfu (closed after each test) and the events it emitted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sfu import Sfu, SfuEvent


@pytest.fixture
async def events() -> list[SfuEvent]:
    return []


@pytest.fixture
async def sfu(events: list[SfuEvent]) -> AsyncIterator[Sfu]:
    server = Sfu(on_event=events.append)
    yield server
    await server.close()
