"""What refusals say, in Vietnamese and English: the server sends a code and parameters
(REST errors, form problems, Socket.IO acks); these texts turn them into a sentence.

`field_<code>`: a problem with one form field (shown beside it); `error_<code>`: a refusal.
"""
from __future__ import annotations

import unicodedata
from typing import Any

_TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "field_required": "Trường này không được để trống.",
        "field_too_long": "Tối đa {max} ký tự.",
        "field_control_characters": "Có ký tự điều khiển không hợp lệ.",
        "field_unknown_room": "Không có phòng họp này.",
        "field_no_time_zone": "Thiếu múi giờ.",
        "field_start_in_past": "Thời gian bắt đầu đã qua.",
        "field_end_before_start": "Thời gian kết thúc phải sau thời gian bắt đầu.",
        "field_too_long_meeting": "Một cuộc họp kéo dài tối đa {hours} giờ.",
        "field_unknown_account": "Không có tài khoản này (hoặc đã bị khóa).",
        "field_unknown_point": "Không có điểm cầu “{id}”.",
        "field_duplicate_point": "Điểm cầu {name} được chọn hai lần.",
        "field_duplicate_delegate": "Đại biểu {name} được mời hai lần.",
        "field_point_not_invited": "Điểm cầu này không nằm trong danh sách điểm cầu được mời.",
        "field_out_of_range": "Giá trị phải từ {min} đến {max}.",
        "field_below_minimum": "Giá trị phải từ {min} trở lên.",
        "field_above_maximum": "Giá trị không được lớn hơn {max}.",
        "field_too_many": "Tối đa {max} mục.",
        "field_unknown_agenda_item": "Không có nội dung chương trình này.",
        "field_not_pdf": "Chỉ nhận tệp PDF: “{filename}” không phải PDF.",
        "field_file_too_large": "Tệp lớn hơn {max_mb} MB.",
        "field_invalid_value": "Giá trị không hợp lệ.",
        "field_invalid_datetime": "Ngày giờ không hợp lệ (ví dụ 14:00 01/12/2026).",
        "field_unknown_field": "Trường này không tồn tại.",
        "field_bad_email": "Địa chỉ thư điện tử không hợp lệ.",
        "field_bad_username": "Tên đăng nhập gồm 1–64 ký tự, không có dấu cách.",
        "field_bad_role": "Vai trò không hợp lệ.",
        "field_username_taken": "Tên đăng nhập “{username}” đã có người dùng.",
        "field_weak_password": "Mật khẩu cần ít nhất {min} ký tự.",
        "field_wrong_password": "Mật khẩu hiện tại không đúng.",
        "field_same_password": "Mật khẩu mới phải khác mật khẩu hiện tại.",
        "field_passwords_differ": "Hai lần nhập mật khẩu mới không giống nhau.",
        "error_invalid": "Có trường chưa hợp lệ; không có gì được lưu.",
        "error_login_required": "Bạn cần đăng nhập.",
        "error_forbidden": "Bạn không có quyền làm việc này.",
        "error_not_found": "Không tìm thấy.",
        "error_not_scheduled": "Cuộc họp “{title}” không còn ở trạng thái sắp diễn ra nên không sửa hoặc hủy được.",
        "error_only_admin": "Đây là tài khoản quản trị duy nhất: không thể khóa hoặc đổi vai trò.",
        "error_in_charge_of_meeting": "Tài khoản này đang là chủ tọa hoặc thư ký của cuộc họp “{title}” chưa kết thúc.",
        "error_bad_json": "Nội dung gửi lên không phải JSON hợp lệ.",
        "error_unsupported_media_type": "Hãy gửi nội dung dạng application/json.",
        "error_csrf_failed": "Biểu mẫu đã hết hạn. Hãy tải lại trang và gửi lại.",
        "error_conflict": "Thao tác không thực hiện được ở trạng thái hiện tại.",
        "error_stale_version": "Bản {base} không còn là bản mới nhất: đã có bản {latest}. Hãy tải lại trang và làm trên bản {latest}; không có gì bị ghi đè.",
        "error_bad_request": "Yêu cầu không hợp lệ.",
        "error_above_headcount": "{hands} người giơ tay, nhiều hơn số người có mặt mà điểm cầu đã báo ({headcount}).",
        "error_above_seats": "{hands} người giơ tay, nhiều hơn số chỗ biểu quyết giơ tay của điểm cầu ({seats}).",
        "error_internal_error": "Máy chủ gặp lỗi; hãy thử lại.",
        "error_unknown_point": "Không có điểm cầu “{id}”.",
        "error_must_change_password": "Hãy đổi mật khẩu dùng một lần trước khi tiếp tục.",
        "error_method_not_allowed": "Địa chỉ này không nhận phương thức đó.",
        "error_too_large": "Nội dung gửi lên quá lớn.",
        "error_rate_limited": "Gửi quá nhiều yêu cầu; hãy chờ một lát rồi thử lại.",
        "error_in_lobby": "Bạn đang chờ ở phòng chờ để chủ tọa cho vào.",
        "error_unknown_event": "Máy chủ không biết sự kiện này.",
        "error_invalid_credentials": "Tên đăng nhập hoặc mật khẩu không đúng.",
    },
    "en": {
        "field_required": "This field is required.",
        "field_too_long": "At most {max} characters.",
        "field_control_characters": "Contains control characters.",
        "field_unknown_room": "No such meeting room.",
        "field_no_time_zone": "The time zone is missing.",
        "field_start_in_past": "The start time has passed.",
        "field_end_before_start": "The end must be after the start.",
        "field_too_long_meeting": "A meeting lasts at most {hours} hours.",
        "field_unknown_account": "No such account (or it is deactivated).",
        "field_unknown_point": "No bridge point “{id}”.",
        "field_duplicate_point": "Bridge point {name} is chosen twice.",
        "field_duplicate_delegate": "Delegate {name} is invited twice.",
        "field_point_not_invited": "This bridge point is not among the invited points.",
        "field_out_of_range": "Must be between {min} and {max}.",
        "field_below_minimum": "Must be at least {min}.",
        "field_above_maximum": "Must be at most {max}.",
        "field_too_many": "At most {max} entries.",
        "field_unknown_agenda_item": "No such agenda item.",
        "field_not_pdf": "Only PDF files: “{filename}” is not a PDF.",
        "field_file_too_large": "The file is larger than {max_mb} MB.",
        "field_invalid_value": "Not a valid value.",
        "field_invalid_datetime": "Not a valid date and time (e.g. 14:00 01/12/2026).",
        "field_unknown_field": "No such field.",
        "field_bad_email": "Not a valid e-mail address.",
        "field_bad_username": "A username has 1–64 characters and no spaces.",
        "field_bad_role": "Not a valid role.",
        "field_username_taken": "The username “{username}” is taken.",
        "field_weak_password": "A password needs at least {min} characters.",
        "field_wrong_password": "The current password is wrong.",
        "field_same_password": "The new password must differ from the current one.",
        "field_passwords_differ": "The two new passwords differ.",
        "error_invalid": "Some fields are not valid; nothing was saved.",
        "error_login_required": "Please sign in.",
        "error_forbidden": "You are not allowed to do this.",
        "error_not_found": "Not found.",
        "error_not_scheduled": "The meeting “{title}” is no longer scheduled, so it cannot be edited or cancelled.",
        "error_only_admin": "This is the only administrator account: it cannot be deactivated or change role.",
        "error_in_charge_of_meeting": "This account chairs or is secretary of the meeting “{title}”, which is not closed yet.",
        "error_bad_json": "The body is not valid JSON.",
        "error_unsupported_media_type": "Send the body as application/json.",
        "error_csrf_failed": "The form has expired. Reload the page and send it again.",
        "error_conflict": "Not possible in the current state.",
        "error_stale_version": "Version {base} is no longer the latest: version {latest} exists. Reload the page and work on version {latest}; nothing was overwritten.",
        "error_bad_request": "The request is not valid.",
        "error_above_headcount": "{hands} hands, more than the head-count the point reported ({headcount}).",
        "error_above_seats": "{hands} hands, more than the point's show-of-hands seats ({seats}).",
        "error_internal_error": "The server failed; please try again.",
        "error_unknown_point": "No bridge point “{id}”.",
        "error_must_change_password": "Change the one-time password before you continue.",
        "error_method_not_allowed": "This address does not take that method.",
        "error_too_large": "What was sent is too large.",
        "error_rate_limited": "Too many requests; wait a moment and try again.",
        "error_in_lobby": "You are waiting in the lobby for the chair to admit you.",
        "error_unknown_event": "The server does not know this event.",
        "error_invalid_credentials": "Wrong username or password.",
    },
}
TEXTS = {lang: {k: unicodedata.normalize("NFC", v) for k, v in table.items()} for lang, table in _TEXTS.items()}
assert TEXTS["vi"].keys() == TEXTS["en"].keys()


class _Keep(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _say(lang: str, key: str, fallback: str, params: dict[str, Any]) -> str:
    template = TEXTS[lang].get(key) or TEXTS[lang][fallback]
    return template.format_map(_Keep({k: v for k, v in params.items()}))


def field_message(lang: str, code: str, params: dict[str, Any] | None = None) -> str:
    params = params or {}
    if code == "out_of_range" and not {"min", "max"} <= params.keys():
        # pydantic's Field(ge=, le=) names only the bound that was crossed
        code = "below_minimum" if "min" in params else "above_maximum" if "max" in params else "invalid_value"
    return _say(lang, f"field_{code}", "field_invalid_value", params)


def error_message(lang: str, code: str, params: dict[str, Any] | None = None) -> str:
    """A refusal in the reader's language; a code without its own text reads as a bad request,
    a field code (an account problem reported as a whole) as the field's text."""
    if f"error_{code}" not in TEXTS[lang] and f"field_{code}" in TEXTS[lang]:
        return field_message(lang, code, params)
    return _say(lang, f"error_{code}", "error_bad_request", params or {})
