"""The Chromium every e2e test drives: Debian's, through Playwright, with a tone as microphone."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.harness import CHROMIUM, chromium_args, write_tone_wav


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is not installed (scripts/test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright import sync_api

    wav = write_tone_wav(tmp_path / "tone.wav")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(wav))
        try:
            yield browser
        finally:
            browser.close()
