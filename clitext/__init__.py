"""argparse in the CLI's language: Vietnamese, or English with HOINGHI_LANG=en.

argparse builds its usage line, section titles and error messages with gettext at call time
(its module-level `_` and `ngettext`), but Python ships no catalogue for them, so a user
typing a wrong option got English. `Parser` swaps those two names for a lookup of the same
msgids while it formats help or parses, and puts them back after. Shared by `hoinghi` and
`hoinghi bridge` (which may not import web/).
"""
from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn

# argparse's msgids (Python 3.11), as a gettext catalogue would hold them
VIETNAMESE = {
    "usage: ": "Cách dùng: ",
    "positional arguments": "đối số",
    "options": "tùy chọn",
    "show this help message and exit": "in hướng dẫn này rồi thoát",
    "show program's version number and exit": "in số phiên bản rồi thoát",
    "subcommands": "lệnh con",
    "the following arguments are required: %s": "thiếu tham số bắt buộc: %s",
    "unrecognized arguments: %s": "không có tham số này: %s",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "giá trị %(value)r không hợp lệ (chọn một trong: %(choices)s)",
    "invalid %(type)s value: %(value)r": "giá trị %(value)r không hợp lệ (cần kiểu %(type)s)",
    "expected one argument": "cần đúng một giá trị",
    "expected at most one argument": "cần nhiều nhất một giá trị",
    "expected at least one argument": "cần ít nhất một giá trị",
    "expected %s argument": "cần %s giá trị",
    "expected %s arguments": "cần %s giá trị",
    "ambiguous option: %(option)s could match %(matches)s": "tùy chọn %(option)s không rõ: có thể là %(matches)s",
    "not allowed with argument %s": "không dùng cùng với %s",
    "one of the arguments %s is required": "cần một trong các tham số %s",
    "ignored explicit argument %r": "giá trị %r bị bỏ qua",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "không có lệnh %(parser_name)r (chọn một trong: %(choices)s)",
    "can't open '%(filename)s': %(error)s": "không mở được '%(filename)s': %(error)s",
    "unexpected option string: %s": "tùy chọn không mong đợi: %s",
}
INPUT_ERROR = {"vi": "Lỗi dữ liệu nhập", "en": "Input error"}
SEE_HELP = {"vi": "xem {prog} --help", "en": "see {prog} --help"}


def language() -> str:
    return "en" if os.environ.get("HOINGHI_LANG", "vi").lower().startswith("en") else "vi"


def _vi(message: str) -> str:
    return unicodedata.normalize("NFC", VIETNAMESE.get(message, message))


@contextmanager
def _translated() -> Iterator[None]:
    if language() == "en":
        yield
        return
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._ = _vi  # type: ignore[attr-defined]
    argparse.ngettext = lambda one, many, n: _vi(one if n == 1 else many)
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help and errors are in the CLI's language; an error is one line
    on stderr, `Lỗi dữ liệu nhập: …` (what was wrong, where), and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _translated():
            super().__init__(*args, **kwargs)

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", type(self))
        with _translated():
            return super().add_subparsers(**kwargs)

    def parse_args(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with _translated():
            return super().parse_args(*args, **kwargs)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        with _translated():
            return super().parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        with _translated():
            return super().format_usage()

    def format_help(self) -> str:
        with _translated():
            return super().format_help()

    def error(self, message: str) -> NoReturn:
        hint = SEE_HELP[language()].format(prog=self.prog)
        print(f"{INPUT_ERROR[language()]}: {message} ({hint})", file=sys.stderr)
        raise SystemExit(2)
