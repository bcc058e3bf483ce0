"""A large meeting in Chromium: five participants in a room whose screens show two
thumbnails. Each page switches to slots (the speaker large, two thumbnails, the loudest
microphones) instead of subscribing to everyone, shows only the slots' tiles with video, and
every publisher sends two camera layers, each only while someone receives it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.harness import Deployment, Person, serving
from tests.e2e.test_meeting_browser import ARTIFACTS, Client, open_person, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]
THUMBNAILS = 2


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    yield from serving(Deployment(root=tmp_path / "hoinghi", thumbnails=THUMBNAILS, people=[
        Person("chutoa", "Nguyễn Văn An", "chair"),
        Person("thuky", "Trần Thị Bình", "secretary"),
        Person("daibieu1", "Lê Văn Cường", "delegate"),
        Person("daibieu2", "Phạm Thị Dung", "delegate"),
        Person("daibieu3", "Hoàng Văn Em", "delegate"),
    ]))


def slot_view(client: Client) -> dict[str, Any]:
    stats = client.stats()
    tiles = [t for t in stats.get("tiles", []) if not t["local"] and t["source"] == "camera"]
    return {"large": stats.get("large"), "slots": stats.get("slots") or {},
            "video": sorted(t["name"] for t in tiles if t["has_video"] and t["frames"] > 20),
            "subscribed": len(stats.get("received", []))}


def test_five_participants_two_thumbnails_get_the_speaker_and_two_thumbnails(deployment: Deployment, browser: Any) -> None:
    clients = [open_person(browser, deployment, i) for i in range(len(deployment.people))]
    try:
        def ready() -> bool | list[str]:
            problems = []
            for client in clients:
                view = slot_view(client)
                speaker = (view["slots"].get("active-speaker") or {}).get("peer_id")
                thumbs = [view["slots"].get(f"thumbnail-{i}") for i in range(THUMBNAILS)]
                # the speaker's own page keeps the previous speaker: none yet at the start
                large = THUMBNAILS + (1 if speaker else 0)
                if not view["large"] or not all(thumbs) or len(view["video"]) != large:
                    problems.append(f"{client.name}: {view}")
            return problems or True

        wait_for("every page on slots with the speaker and two thumbnails playing", ready, timeout=150)
        for client in clients:
            view = slot_view(client)
            # what it receives: the speaker, two thumbnails, three loudest microphones, no screen
            assert view["subscribed"] == 1 + THUMBNAILS + 3, view
            speaking = bool(view["slots"].get("active-speaker"))
            assert len(client.page.locator("#stage .tile").all()) == int(speaking)
            assert client.page.evaluate("document.body.classList.contains('large-meeting')")
        names = [person.name for person in deployment.people]
        for client in clients:
            # the participants list names everyone, tile or not, and marks the speaker the SFU hears
            def listed(client: Client = client) -> bool | list[str]:
                people = client.page.locator("#control-panel .hn-people li")
                text = " ".join(people.all_inner_texts())
                missing = [name for name in names if name not in text]
                view = slot_view(client)
                speaker = (view["slots"].get("active-speaker") or {}).get("peer_id")
                tiles = {t["peer_id"]: t["name"] for t in client.stats().get("tiles", [])}
                marked = client.page.locator("#control-panel .hn-people li.speaking").all_inner_texts()
                if speaker and (len(marked) != 1 or tiles.get(speaker, "?") not in marked[0]):
                    missing.append(f"speaker {tiles.get(speaker)} marked as {marked}")
                return missing or True

            wait_for(f"{client.name}: everyone listed, the speaker marked", listed, timeout=30)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for client in clients[:2]:
            client.screenshot("large-meeting")
    finally:
        for client in clients:
            client.page.context.close()
