"""The province's clock: every meeting time a person reads or types is Asia/Ho_Chi_Minh (UTC+7)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: hoinghi handles only timezone-aware times")
    return moment.astimezone(LOCAL_ZONE)


def start_of_local_day(moment: datetime) -> datetime:
    """Midnight in Hà Nội of the day `moment` falls on (what "today's meetings" begin with)."""
    return datetime.combine(local(moment).date(), time(0), tzinfo=LOCAL_ZONE)


def next_week_after(original: datetime, now: datetime) -> datetime:
    """The same weekday and time as `original`, in the first week after `now` (copying a weekly meeting)."""
    moment = original
    while moment <= now:
        moment += timedelta(days=7)
    return moment


_WEEKDAYS = {
    "vi": ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def format_datetime(moment: datetime, lang: str = "vi") -> str:
    """'14:00, thứ Ba 01/12/2026' (English: '14:00, Tuesday 01/12/2026'), in Vietnam's time."""
    at = local(moment)
    return f"{at:%H:%M}, {_WEEKDAYS[lang][at.weekday()]} {at:%d/%m/%Y}"


def format_time(moment: datetime) -> str:
    return f"{local(moment):%H:%M}"
