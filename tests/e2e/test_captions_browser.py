"""Captions in real Chromium: a fake microphone playing tone bursts → SFU → tap → Vosk (the tiny
model) → Socket.IO → caption on the meeting page and the TV screen, and a segment under the current
agenda item on the transcript page, which the secretary corrects. Screenshots: test-artifacts/e2e/."""
from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from meetings import agenda, moderation
from meetings.control_common import Caller
from meetings.db import create_engine, session_factory
from tests.e2e.harness import CHROMIUM, Deployment, chromium_args, serving
from tests.e2e.test_meeting_browser import ARTIFACTS, open_person, open_point, wait_for
from transcription.tiny_model import WORD, write_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]
ITEM = "Kế hoạch đầu tư công năm 2027"


def write_burst_wav(path: Path, rate: int = 48000) -> Path:
    """4 s that Chromium loops: a 0.6 s tone burst at 1 s, faint noise the rest of the time."""
    t = np.arange(4 * rate) / rate
    signal = 0.001 * np.random.default_rng(1).standard_normal(t.size)
    burst = (t >= 1.0) & (t < 1.6)
    signal[burst] += 0.4 * np.sin(2 * np.pi * 440 * t[burst])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


async def _open_with_item(deployment: Deployment) -> int:
    engine = create_engine(deployment.database_url)
    try:
        async with session_factory(engine)() as session:
            chair, secretary = deployment.people[0], deployment.people[1]
            as_chair = Caller(f"account:{chair.id}", chair.name, "chair", chair.id)
            await moderation.open_meeting(session, as_chair, deployment.meeting_id)
            item = await agenda.add_item(session, Caller(f"account:{secretary.id}", secretary.name, "secretary",
                                                         secretary.id), deployment.meeting_id, ITEM)
            await agenda.set_current(session, as_chair, deployment.meeting_id, item)
            await session.commit()
            return item
    finally:
        await engine.dispose()


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.setenv("HOINGHI_VOSK_MODEL", str(write_tiny_model(tmp_path / "tiny-model")))
    deployment = Deployment(root=tmp_path / "hoinghi")
    deployment.prepare()
    asyncio.run(_open_with_item(deployment))
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=chromium_args(write_burst_wav(tmp_path / "bursts.wav")))
        try:
            yield browser
        finally:
            browser.close()


def test_a_spoken_burst_becomes_a_caption_and_a_segment_under_the_agenda_item(deployment: Deployment, browser: Any) -> None:
    secretary = open_person(browser, deployment, 1)
    delegate = open_person(browser, deployment, 2)
    point = open_point(browser, deployment)
    delegate_name = deployment.people[2].name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        # the caption of the delegate's burst reaches the secretary's page, the partial and the final
        line = secretary.page.locator(".caption-line", has_text=delegate_name)
        line.wait_for(timeout=60000)
        wait_for("a final caption of the delegate", lambda: secretary.page.evaluate(
            "(name) => window.hoinghi.captions.some(c => c.final && c.speaker === name)", delegate_name), 30)
        # the secretary's browser plays the same bursts at the same moments: two speakers at once,
        # each final carrying its own speaker
        secretary_name = deployment.people[1].name
        wait_for("a final caption of the secretary", lambda: secretary.page.evaluate(
            "(name) => window.hoinghi.captions.some(c => c.final && c.speaker === name)", secretary_name), 30)
        captions = secretary.page.evaluate("window.hoinghi.captions")
        for person in deployment.people[1:3]:
            final = next(c for c in captions if c["final"] and c["speaker"] == person.name)
            assert final["text"].split()[0] == WORD and final["segment"]["item_id"] is not None
            assert final["source"] == f"account:{person.id}" and final["segment"]["speaker_account_id"] == person.id
        secretary.page.screenshot(path=str(ARTIFACTS / "captions-meeting-page.png"))
        # the TV screen shows them too, in large type
        point.page.locator(".captions-tv .caption-line").first.wait_for(timeout=60000)
        size = point.page.evaluate("parseFloat(getComputedStyle(document.querySelector('.caption-line')).fontSize)")
        assert size >= 36
        point.page.screenshot(path=str(ARTIFACTS / "captions-tv.png"))

        # each viewer can switch captions off, for themselves only, and the browser remembers it
        hidden = "document.getElementById('captions').hidden"
        secretary.page.click("#btn-captions")
        assert secretary.page.locator("#captions").is_hidden()
        assert delegate.page.evaluate(hidden) is False
        secretary.page.reload()
        secretary.page.locator("#btn-captions").wait_for()
        assert secretary.page.evaluate(hidden) is True
        assert secretary.page.locator("#btn-captions").get_attribute("aria-pressed") == "false"
        secretary.page.click("#btn-captions")
        assert secretary.page.evaluate(hidden) is False
        # on the TV screen (no buttons) the C key does it
        point.page.keyboard.press("c")
        assert point.page.evaluate(hidden) is True
        point.page.keyboard.press("c")
        assert point.page.evaluate(hidden) is False
        # the segment is on the transcript page, under the current agenda item
        page = secretary.page.context.new_page()
        page.goto(f"/meetings/{deployment.meeting_id}/transcript")
        section = page.locator(".transcript-item", has_text=ITEM)
        segment = section.locator(".segment", has_text=delegate_name).first
        segment.wait_for(timeout=10000)
        assert segment.locator(".text").inner_text().startswith(WORD)
        # live: the next bursts (the WAV loops every 4 s) arrive without reloading
        count = section.locator(".segment").count()
        wait_for("a new segment while the page is open", lambda: section.locator(".segment").count() > count, 30)
        # the secretary corrects one; the correction shows who made it
        segment.locator("button.edit").click()
        segment.locator("textarea").fill("Chào các đồng chí")
        segment.locator("button[type=submit]").click()
        page.locator(".segment .text", has_text="Chào các đồng chí").wait_for(timeout=10000)
        assert page.locator(".segment .corrected").first.inner_text().startswith("(đã sửa bởi Trần Thị Bình")
        # search without diacritics finds it
        page.goto(f"/meetings/{deployment.meeting_id}/transcript?q=chao cac dong chi")
        assert page.locator(".segment").count() == 1
        page.screenshot(path=str(ARTIFACTS / "transcript-search.png"), full_page=True)
        page.goto(f"/meetings/{deployment.meeting_id}/transcript")
        page.screenshot(path=str(ARTIFACTS / "transcript-page.png"), full_page=True)
    except BaseException:
        for client in (secretary, delegate, point):
            try:
                client.screenshot("captions-failure")
            except Exception:
                pass
        print("\n".join(secretary.console[-30:] + delegate.console[-30:]))
        print((deployment.root / "server-1.log").read_text()[-4000:])
        raise


@pytest.fixture
def deployment_without_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.delenv("HOINGHI_VOSK_MODEL", raising=False)
    yield from serving(Deployment(root=tmp_path / "hoinghi"))


def test_without_a_model_the_secretary_is_told_a_delegate_is_not_and_nobody_gets_a_captions_switch(
        deployment_without_model: Deployment, browser: Any) -> None:
    secretary = open_person(browser, deployment_without_model, 1)
    delegate = open_person(browser, deployment_without_model, 2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    notice = secretary.page.locator(".caption-notice")
    notice.wait_for(timeout=30000)
    assert "chưa cài mô hình nhận dạng giọng nói" in notice.inner_text()
    secretary.page.screenshot(path=str(ARTIFACTS / "captions-no-model-secretary.png"))
    delegate.page.locator("#btn-captions").wait_for(state="attached", timeout=30000)
    wait_for("the delegate's page asked /api/transcription", lambda: delegate.page.evaluate(
        "performance.getEntriesByType('resource').some(e => e.name.endsWith('/api/transcription'))"), 30)
    assert delegate.page.locator(".caption-notice").count() == 0
    for person in (secretary, delegate):  # nothing to switch on without a model
        person.page.locator("#btn-captions").wait_for(state="hidden", timeout=10000)
    log = (deployment_without_model.root / "server-1.log").read_text()
    assert log.count("transcription off") == 1
