"""The agent's messages: Vietnamese, or English with HOINGHI_LANG=en."""
from __future__ import annotations

import os
import unicodedata

MESSAGES = {
    "vi": {
        "help_description": "Tác tử điểm cầu hoinghi: camera, micrô, codec phòng họp không cần trình duyệt",
        "help_config": "tệp TOML với cùng các khóa (server, point, token_file, video, …)",
        "help_server": "địa chỉ máy chủ hoinghi, ví dụ https://hoinghi.quangninh.gov.vn",
        "help_point": "mã điểm cầu trong rooms.toml",
        "help_token_file": "tệp chứa mã truy cập của điểm cầu (hoinghi point token)",
        "help_video": "/dev/video0 | v4l2:THIẾT_BỊ | rtsp://… | lavfi:ĐỒ_THỊ | TỆP | none",
        "help_audio": "alsa:THIẾT_BỊ | pulse | rtsp://… | lavfi:ĐỒ_THỊ | TỆP | none",
        "help_audio_out": "âm thanh cuộc họp: alsa:THIẾT_BỊ | TỆP (.wav, .ogg) | none",
        "help_record": "người đang phát biểu: TỆP (.mp4, .webm) | none",
        "help_display": "màn hình của phòng họp: auto | :0 (màn hình X) | none; người đang phát biểu toàn màn hình",
        "help_ca_file": "chứng thư PEM được tin cậy (máy chủ tự ký)",
        "help_max_backoff": "số giây chờ tối đa giữa hai lần kết nối lại (mặc định 3)",
        "help_log_level": "mức ghi nhật ký",
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
        "bad_display": "không hiểu màn hình {spec!r}: dùng auto, :0 (màn hình X), hoặc none",
        "display_unavailable": "không mở được màn hình ({reason})",
        "display_timeout": "màn hình không mở được trong 10 giây",
        "display_none": "không có màn hình nào (X11, Wayland hay KMS)",
        "display_connecting": "Đang kết nối tới cuộc họp…",
        "display_waiting": "Đang chờ hình ảnh người phát biểu",
        "display_no_meeting": "Chưa có cuộc họp nào cho điểm cầu này",
        "point_mismatch": "mã truy cập thuộc điểm cầu {actual!r}, không phải {expected!r}",
        "token_refused": "máy chủ từ chối mã truy cập của điểm cầu (đã thu hồi hoặc sai)",
        "started": "Điểm cầu {point}: kết nối tới {server}",
        "waiting": "Chưa có cuộc họp nào cho điểm cầu {point}; thử lại sau {seconds} giây",
        "joined": "Đã vào cuộc họp {meeting_id}: {title}",
        "lost": "Mất kết nối ({reason}); kết nối lại sau {seconds:.1f} giây",
        "stopping": "Đang dừng tác tử điểm cầu…",
        "stopped": "Đã dừng tác tử điểm cầu.",
    },
    "en": {
        "help_description": "hoinghi bridge-point agent: room cameras, microphones and codecs without a browser",
        "help_config": "TOML file with the same keys (server, point, token_file, video, …)",
        "help_server": "URL of the hoinghi server, e.g. https://hoinghi.quangninh.gov.vn",
        "help_point": "the point's id in rooms.toml",
        "help_token_file": "file holding the point's token (hoinghi point token)",
        "help_video": "/dev/video0 | v4l2:DEV | rtsp://… | lavfi:GRAPH | FILE | none",
        "help_audio": "alsa:DEVICE | pulse | rtsp://… | lavfi:GRAPH | FILE | none",
        "help_audio_out": "the meeting's audio: alsa:DEVICE | FILE (.wav, .ogg) | none",
        "help_record": "the active speaker: FILE (.mp4, .webm) | none",
        "help_display": "the room's screen: auto | :0 (an X display) | none; the active speaker full screen",
        "help_ca_file": "PEM certificate to trust (a self-signed server)",
        "help_max_backoff": "seconds between reconnection attempts, at most (default 3)",
        "help_log_level": "log level",
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
        "bad_display": "unknown screen {spec!r}: use auto, :0 (an X display), or none",
        "display_unavailable": "cannot open the screen ({reason})",
        "display_timeout": "the screen did not open within 10 s",
        "display_none": "no screen found (X11, Wayland or KMS)",
        "display_connecting": "Connecting to the meeting…",
        "display_waiting": "Waiting for the speaker's picture",
        "display_no_meeting": "No meeting for this point yet",
        "point_mismatch": "the token belongs to point {actual!r}, not {expected!r}",
        "token_refused": "the server refuses the point's token (revoked or wrong)",
        "started": "Point {point}: connecting to {server}",
        "waiting": "No meeting for point {point} yet; trying again in {seconds} s",
        "joined": "Joined meeting {meeting_id}: {title}",
        "lost": "Connection lost ({reason}); reconnecting in {seconds:.1f} s",
        "stopping": "Stopping the bridge-point agent…",
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
