"""Times as people in the province read them: Asia/Ho_Chi_Minh, "14:00, thứ Ba 01/12/2026"."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_WEEKDAYS = {
    "vi": ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: hoinghi handles only timezone-aware times")
    return moment.astimezone(LOCAL_ZONE)


def format_datetime(moment: datetime, lang: str = "vi") -> str:
    """'14:00, thứ Ba 01/12/2026' (English: '14:00, Tuesday 01/12/2026'), in Vietnam's time."""
    at = local(moment)
    return f"{at:%H:%M}, {_WEEKDAYS[lang][at.weekday()]} {at:%d/%m/%Y}"


def format_time(moment: datetime) -> str:
    return f"{local(moment):%H:%M}"
