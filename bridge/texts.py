"""The agent's messages: Vietnamese, or English with HOINGHI_LANG=en."""
from __future__ import annotations

import os
import unicodedata

MESSAGES = {
    "vi": {
        "input_error": "Lỗi dữ liệu nhập",
        "source_error": "Không mở được nguồn",
        "missing": "thiếu tham số (dòng lệnh hoặc tệp cấu hình)",
        "bad_url": "phải là địa chỉ http:// hoặc https:// của máy chủ hoinghi",
        "bad_point": "mã điểm cầu chỉ gồm chữ thường không dấu, chữ số và dấu gạch ngang",
        "token_unreadable": "không đọc được tệp mã truy cập ({reason})",
        "token_empty": "tệp mã truy cập rỗng hoặc không phải mã hnp_…",
        "config_unreadable": "không đọc được tệp cấu hình ({reason})",
        "config_key": "khóa không hợp lệ: {keys}",
        "bad_source": "không hiểu nguồn {spec!r}: dùng /dev/videoN, v4l2:/dev/videoN, alsa:THIẾT_BỊ, pulse, rtsp://…, lavfi:…, tệp, hoặc none",
        "source_unreachable": "{spec}: {reason}",
        "no_stream": "{spec}: không có luồng {kind}",
        "no_media": "cần ít nhất một nguồn: --video hoặc --audio",
        "bad_output": "không hiểu đầu ra {spec!r}: dùng alsa:THIẾT_BỊ, một tệp (.wav, .ogg, .mp4, .webm…), hoặc none",
        "bad_number": "phải là một số dương",
        "point_mismatch": "mã truy cập thuộc điểm cầu {actual!r}, không phải {expected!r}",
        "token_refused": "máy chủ từ chối mã truy cập của điểm cầu (đã thu hồi hoặc sai)",
        "started": "Điểm cầu {point}: kết nối tới {server}",
        "waiting": "Chưa có cuộc họp nào cho điểm cầu {point}; thử lại sau {seconds} giây",
        "joined": "Đã vào cuộc họp {meeting_id}: {title}",
        "lost": "Mất kết nối ({reason}); kết nối lại sau {seconds:.1f} giây",
        "stopped": "Đã dừng tác tử điểm cầu.",
    },
    "en": {
        "input_error": "Input error",
        "source_error": "Cannot open source",
        "missing": "missing (command line or configuration file)",
        "bad_url": "must be the http:// or https:// address of the hoinghi server",
        "bad_point": "a point id has only lower-case ASCII letters, digits and hyphens",
        "token_unreadable": "cannot read the token file ({reason})",
        "token_empty": "the token file is empty or holds no hnp_… token",
        "config_unreadable": "cannot read the configuration file ({reason})",
        "config_key": "unknown key(s): {keys}",
        "bad_source": "unknown source {spec!r}: use /dev/videoN, v4l2:/dev/videoN, alsa:DEVICE, pulse, rtsp://…, lavfi:…, a file, or none",
        "source_unreachable": "{spec}: {reason}",
        "no_stream": "{spec}: has no {kind} stream",
        "no_media": "give at least one source: --video or --audio",
        "bad_output": "unknown output {spec!r}: use alsa:DEVICE, a file (.wav, .ogg, .mp4, .webm…), or none",
        "bad_number": "must be a positive number",
        "point_mismatch": "the token belongs to point {actual!r}, not {expected!r}",
        "token_refused": "the server refuses the point's token (revoked or wrong)",
        "started": "Point {point}: connecting to {server}",
        "waiting": "No meeting for point {point} yet; trying again in {seconds} s",
        "joined": "Joined meeting {meeting_id}: {title}",
        "lost": "Connection lost ({reason}); reconnecting in {seconds:.1f} s",
        "stopped": "Bridge-point agent stopped.",
    },
}


def say(key: str, **values: object) -> str:
    lang = "en" if os.environ.get("HOINGHI_LANG", "vi").lower().startswith("en") else "vi"
    return unicodedata.normalize("NFC", MESSAGES[lang][key].format(**values))


class AgentError(Exception):
    """A mistake the operator must fix: reported as one line `kind: where: reason`, exit code 2."""

    def __init__(self, kind: str, where: str, reason: str) -> None:
        super().__init__(f"{say(kind)}: {where}: {reason}")
