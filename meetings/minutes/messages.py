"""Messages of signing and verification, Vietnamese first (Decree 23/2025 asks for Vietnamese).

An error carries a code and values; `text(lang)` words it. str() is the Vietnamese text.
"""
from __future__ import annotations

import unicodedata

MESSAGES = {
    "vi": {
        "cert_expired": "Chứng thư số của {name} đã hết hạn vào {when}; không thể ký.",
        "cert_not_yet_valid": "Chứng thư số của {name} chưa có hiệu lực (từ {when}); không thể ký.",
        "cert_usage": "Chứng thư số của {name} không được phép dùng để ký số (thiếu mục đích sử dụng digitalSignature/nonRepudiation).",
        "cert_untrusted": "Chứng thư số của {name} không chứng thực được đến chứng thư gốc tin cậy đã cấu hình ({reason}).",
        "cert_revoked": "Chứng thư số của {name} đã bị thu hồi vào {when}; không thể ký.",
        "cert_revocation_unknown": "Không kiểm tra được tình trạng thu hồi chứng thư số của {name} ({reason}).",
        "no_key": "Tài khoản {name} chưa được cấu hình khóa ký; hãy ký từ máy của mình bằng lệnh: hoinghi sign.",
        "key_unreadable": "Không mở được khóa ký của {name}: {reason}.",
        "signing_config": "Tệp cấu hình ký số {path}: {reason}.",
        "tsa_failed": "Không lấy được dấu thời gian từ {url}: {reason}.",
        "cms_mismatch": "Chữ ký gửi về không khớp với tài liệu đã chuẩn bị ({reason}).",
        "not_pdf": "Tệp không phải PDF hợp lệ: {reason}.",
        "no_signatures": "Tệp PDF không có chữ ký số nào.",
    },
    "en": {
        "cert_expired": "The certificate of {name} expired on {when}; it cannot sign.",
        "cert_not_yet_valid": "The certificate of {name} is not valid yet (from {when}); it cannot sign.",
        "cert_usage": "The certificate of {name} is not allowed to sign (key usage digitalSignature/nonRepudiation missing).",
        "cert_untrusted": "The certificate of {name} does not chain to a configured trust root ({reason}).",
        "cert_revoked": "The certificate of {name} was revoked on {when}; it cannot sign.",
        "cert_revocation_unknown": "The revocation status of the certificate of {name} could not be checked ({reason}).",
        "no_key": "No signing key is configured for {name}; sign from your own computer with: hoinghi sign.",
        "key_unreadable": "Cannot open the signing key of {name}: {reason}.",
        "signing_config": "Signing configuration {path}: {reason}.",
        "tsa_failed": "No timestamp from {url}: {reason}.",
        "cms_mismatch": "The signature sent back does not match the prepared document ({reason}).",
        "not_pdf": "Not a valid PDF file: {reason}.",
        "no_signatures": "The PDF file has no digital signature.",
    },
}


class MinutesError(Exception):
    """A refusal reported to the user; `code` is stable for programs, the text is for people."""

    def __init__(self, code: str, **values: object) -> None:
        self.code, self.values = code, values
        super().__init__(self.text("vi"))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return _rebuild, (self.code, self.values)  # raised in a worker process, re-raised here

    def text(self, lang: str = "vi") -> str:
        table = MESSAGES["en" if lang == "en" else "vi"]
        return unicodedata.normalize("NFC", table[self.code].format(**self.values))


def _rebuild(code: str, values: dict[str, object]) -> MinutesError:
    return MinutesError(code, **values)
