"""User-facing text in Vietnamese (default) and English, NFC-normalised."""
from __future__ import annotations

import unicodedata

from aiohttp import web

LANGUAGES = ("vi", "en")
LANG_COOKIE = "hoinghi_lang"

_TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "app_name": "Hội nghị truyền hình trực tuyến",
        "login_title": "Đăng nhập",
        "username": "Tên đăng nhập",
        "password": "Mật khẩu",
        "login_button": "Đăng nhập",
        "login_failed": "Tên đăng nhập hoặc mật khẩu không đúng.",
        "login_missing": "Vui lòng nhập tên đăng nhập và mật khẩu.",
        "point_login_link": "Đăng nhập điểm cầu bằng mã truy cập",
        "point_login_title": "Đăng nhập điểm cầu",
        "point_token": "Mã truy cập của điểm cầu",
        "point_login_failed": "Mã truy cập không hợp lệ hoặc đã bị thu hồi.",
        "switch_language": "English",
        "logout": "Đăng xuất",
        "welcome": "Xin chào",
        "role": "Vai trò",
        "meetings": "Cuộc họp",
        "no_meetings": "Chưa có cuộc họp nào.",
        "point_connected": "Điểm cầu đã đăng nhập",
        "role_chair": "Chủ tọa",
        "role_secretary": "Thư ký",
        "role_delegate": "Đại biểu",
        "role_operator": "Kỹ thuật viên điểm cầu",
        "role_observer": "Khách mời theo dõi",
        "role_admin": "Quản trị hệ thống",
        "role_point": "Điểm cầu",
        "status_scheduled": "Sắp diễn ra",
        "status_open": "Đang họp",
        "status_closed": "Đã kết thúc",
        "back_home": "Về trang chủ",
        "error_forbidden": "Bạn không có quyền xem trang này.",
        "error_not_found": "Không tìm thấy trang này.",
        "error_csrf_failed": "Biểu mẫu đã hết hạn. Hãy tải lại trang và gửi lại.",
        "login_rate_limited": "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
        "login_busy": "Máy chủ đang bận kiểm tra đăng nhập. Vui lòng thử lại sau ít giây.",
        "logout_everywhere": "Đăng xuất mọi nơi",
        "logout_everywhere_hint": "Đăng xuất tài khoản này trên mọi trình duyệt và thiết bị",
        "error_cross_origin": "Yêu cầu đến từ một trang khác, không được thực hiện.",
        "error_bad_form": "Biểu mẫu gửi lên bị hỏng. Hãy tải lại trang và gửi lại.",
    },
    "en": {
        "app_name": "Online video conference",
        "login_title": "Sign in",
        "username": "Username",
        "password": "Password",
        "login_button": "Sign in",
        "login_failed": "Wrong username or password.",
        "login_missing": "Please enter your username and password.",
        "point_login_link": "Sign in a bridge point with its access token",
        "point_login_title": "Bridge point sign-in",
        "point_token": "Bridge point access token",
        "point_login_failed": "The access token is not valid or has been revoked.",
        "switch_language": "Tiếng Việt",
        "logout": "Sign out",
        "welcome": "Welcome",
        "role": "Role",
        "meetings": "Meetings",
        "no_meetings": "No meetings yet.",
        "point_connected": "Bridge point signed in",
        "role_chair": "Chair",
        "role_secretary": "Secretary",
        "role_delegate": "Delegate",
        "role_operator": "Bridge point operator",
        "role_observer": "Observer",
        "role_admin": "Administrator",
        "role_point": "Bridge point",
        "status_scheduled": "Scheduled",
        "status_open": "In session",
        "status_closed": "Closed",
        "back_home": "Back to the home page",
        "error_forbidden": "You are not allowed to see this page.",
        "error_not_found": "This page does not exist.",
        "error_csrf_failed": "The form has expired. Reload the page and send it again.",
        "login_rate_limited": "Too many failed sign-ins. Try again in {seconds} seconds.",
        "login_busy": "The server is busy checking sign-ins. Try again in a few seconds.",
        "logout_everywhere": "Sign out everywhere",
        "logout_everywhere_hint": "Sign this account out of every browser and device",
        "error_cross_origin": "The request came from another site and was not carried out.",
        "error_bad_form": "The form that was sent is damaged. Reload the page and send it again.",
    },
}
TEXTS = {lang: {k: unicodedata.normalize("NFC", v) for k, v in table.items()} for lang, table in _TEXTS.items()}


def request_language(request: web.Request) -> str:
    """?lang= wins (and is remembered in a cookie), then the cookie, then Vietnamese."""
    for candidate in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return "vi"


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400, samesite="Strict")
