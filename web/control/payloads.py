"""Payloads of the meeting-control events (docs/protocol.md, "Meeting control"), one strict
pydantic model each: only the fields listed, exact types (`true` is not an integer), integers
within 0…2³¹−1 or their stated range, text ≤ 2,000 characters, bounded lists. These bounds only
keep garbage out; the services in meetings/ check the narrower rules (a title ≤ 500
characters, a known choice) and the state.

`meeting_id` may be sent with every event; it must then name the meeting the connection joined
(ControlPayload.check_meeting)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StrictStr

from meetings.agenda import MAX_PLANNED_MINUTES
from meetings.speaking import MAX_TIME_LIMIT_S
from web.events import EventError
from web.path_ids import MAX_ID
from web.payloads import Id, Omittable, Payload, within

MAX_TEXT = 2000
Text = Annotated[StrictStr, Field(max_length=MAX_TEXT)]
Count = Annotated[StrictInt, within(0, MAX_ID)]  # ids of items, requests, votes, accounts; quorums (0 names nothing: not_found)
Key = Annotated[StrictStr, Field(min_length=1, max_length=63)]  # a point id, an option
Hands = Annotated[StrictInt, within(0, 10_000)]
Minutes = Annotated[StrictInt, within(1, MAX_PLANNED_MINUTES)]


class ControlPayload(Payload):
    """The fields every control event may carry; alone, the payload of an event that takes none."""

    meeting_id: Omittable[Id] = None

    def check_meeting(self, joined: int) -> None:
        if self.meeting_id is not None and self.meeting_id != joined:
            raise EventError("conflict", "meeting_id is not the meeting this connection joined")


class MeetingLock(ControlPayload):
    locked: StrictBool


class MeetingConfigure(ControlPayload):
    members_total: Annotated[StrictInt, within(1, MAX_ID)] | None  # required, null: the meeting's members


class AgendaAdd(ControlPayload):
    title: Text
    presenter: Text = ""
    planned_minutes: Minutes | None = None


class AgendaUpdate(ControlPayload):
    """Left out: unchanged."""

    item_id: Count
    title: Omittable[Text] = None
    presenter: Omittable[Text] = None
    planned_minutes: Minutes | None = None


class AgendaItem(ControlPayload):
    item_id: Count


class AgendaReorder(ControlPayload):
    order: list[Count] = Field(max_length=200)


class AgendaSetCurrent(ControlPayload):
    item_id: Count | None  # required; null only finishes the current item


class SpeakRequest(ControlPayload):
    topic: Text = ""
    on_behalf_of: Text | None = None


class SpeakRequestId(ControlPayload):
    """speak_withdraw, speak_deny."""

    request_id: Count


class SpeakGrant(SpeakRequestId):
    time_limit_s: Annotated[StrictInt, within(0, MAX_TIME_LIMIT_S)] | None = None  # None: the default


class SpeakEnd(ControlPayload):
    request_id: Count | None = None


class VoteOpen(ControlPayload):
    title: Text
    secret: StrictBool = False
    threshold: Text = "majority"
    quorum: Count | None = None
    voters: list[Count] | None = Field(default=None, max_length=10_000)
    hand_seats: dict[Key, Hands] = Field(default_factory=dict, max_length=1000)
    total_members: Annotated[StrictInt, within(1, 100_000)] | None = None
    item_id: Count | None = None


class VoteCast(ControlPayload):
    vote_id: Count
    choice: Text


class VoteHands(ControlPayload):
    vote_id: Count
    counts: dict[Key, Hands] = Field(max_length=3)


class VoteId(ControlPayload):
    """vote_close, vote_cancel."""

    vote_id: Count


class HeadcountReport(ControlPayload):
    headcount: Hands


class Moderate(ControlPayload):
    """moderate_mute, moderate_remove: a roster key."""

    target: Text


class LobbyDecision(ControlPayload):
    """lobby_admit, lobby_reject."""

    peer_id: Text
