"""The operator's commands as a real process: user add, point token, point revoke."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meetings.accounts import authenticate_password, authenticate_point_token
from meetings.config import load_rooms_config
from meetings.config_sync import sync_rooms_config
from meetings.db import create_engine, session_factory, sqlite_url, upgrade_schema
from tests.conftest import SAMPLE_ROOMS


def hoinghi(*args: str, lang: str = "vi") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, HOINGHI_LANG=lang),
    )


async def test_user_add_then_login(tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("mat-khau-chu-toa\n", encoding="utf-8")
    db = sqlite_url(tmp_path / "cli.sqlite3")
    result = hoinghi("user", "add", "chutoa", "--role", "chair", "--display-name", "Phạm Thị Dung",
                     "--password-file", str(password_file), "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Đã tạo tài khoản chutoa (chair)."
    again = hoinghi("user", "add", "chutoa", "--role", "chair", "--password-file", str(password_file), "--db", db, lang="en")
    assert again.returncode == 2
    assert again.stderr.strip() == "Input error: chutoa: an account named 'chutoa' already exists"
    assert hoinghi("user", "add", "x", "--role", "chair", "--password-file", str(tmp_path / "missing"), "--db", db).returncode == 2
    assert hoinghi("user", "add", "x", "--role", "chair", "--password-file", str(password_file), "--db", "mysql://x").returncode == 2

    engine = create_engine(db)
    async with session_factory(engine)() as session:
        principal = await authenticate_password(session, "chutoa", "mat-khau-chu-toa")
    await engine.dispose()
    assert principal is not None and principal.name == "Phạm Thị Dung"


async def test_point_token_is_pasted_then_revoked(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.toml"
    rooms.write_text(SAMPLE_ROOMS.read_text(encoding="utf-8"), encoding="utf-8")
    issued = hoinghi("point", "token", "xa-ba-che", "--config", str(rooms))
    assert issued.returncode == 0, issued.stderr
    token = re.search(r"^\s+(hnp_\S+)$", issued.stdout, re.M).group(1)
    hash_line = re.search(r'^\s+(token_hash = "sha256:[0-9a-f]{64}")$', issued.stdout, re.M).group(1)
    text = rooms.read_text(encoding="utf-8").replace('id = "xa-ba-che"', f'id = "xa-ba-che"\n{hash_line}')
    rooms.write_text(text, encoding="utf-8")

    unknown = hoinghi("point", "token", "khong-co", "--config", str(rooms))
    assert unknown.returncode == 2 and "khong-co" in unknown.stderr and "rooms.toml" in unknown.stderr

    db = sqlite_url(tmp_path / "cli.sqlite3")
    engine = create_engine(db)
    await upgrade_schema(engine)
    async with session_factory(engine)() as session:
        await sync_rooms_config(session, load_rooms_config(rooms))
        assert (await authenticate_point_token(session, token)).id == "xa-ba-che"

    revoked = hoinghi("point", "revoke", "xa-ba-che", "--config", str(rooms), "--db", db)
    assert revoked.returncode == 0, revoked.stderr
    assert "Đã thu hồi mã truy cập của điểm cầu xa-ba-che" in revoked.stdout
    async with session_factory(engine)() as session:
        assert await authenticate_point_token(session, token) is None
    await engine.dispose()


async def test_an_operator_account_is_attached_to_its_point(tmp_path: Path) -> None:
    from meetings.accounts import Principal
    from meetings.points import acting_point

    password_file = tmp_path / "pw"
    password_file.write_text("mat-khau-ky-thuat\n", encoding="utf-8")
    db = sqlite_url(tmp_path / "cli.sqlite3")
    common = ("--password-file", str(password_file), "--db", db, "--config", str(SAMPLE_ROOMS))
    refused = hoinghi("user", "add", "kt1", "--role", "delegate", "--point", "xa-ba-che", *common)
    assert refused.returncode == 2 and "--point" in refused.stderr and "operator" in refused.stderr
    unknown = hoinghi("user", "add", "kt1", "--role", "operator", "--point", "khong-co", *common)
    assert unknown.returncode == 2 and "khong-co" in unknown.stderr
    added = hoinghi("user", "add", "kt1", "--role", "operator", "--point", "xa-ba-che", *common)
    assert added.returncode == 0, added.stderr
    engine = create_engine(db)
    async with session_factory(engine)() as session:
        principal = await authenticate_password(session, "kt1", "mat-khau-ky-thuat")
        assert principal is not None and principal.role == "operator"
        assert (await acting_point(session, principal)).id == "xa-ba-che"
        assert await acting_point(session, Principal("account", "999", "x", "operator")) is None
    await engine.dispose()


def test_help_is_vietnamese_unless_english_is_asked_for() -> None:
    vietnamese = hoinghi("user", "add", "--help")
    assert vietnamese.returncode == 0
    assert vietnamese.stdout.startswith("Cách dùng: hoinghi user add")
    assert "tùy chọn:" in vietnamese.stdout and "họ và tên hiển thị trong cuộc họp và biên bản" in vietnamese.stdout
    english = hoinghi("point", "token", "--help", lang="en")
    assert english.stdout.startswith("usage: hoinghi point token") and "issue" not in vietnamese.stdout
    assert "show this help message and exit" in english.stdout


@pytest.mark.parametrize(
    "verb, phrase",
    [
        (("ca", "init"), "tạo thêm tệp PKCS#12 cho con dấu"),
        (("minutes", "verify"), "chứng thư CA tin cậy"),
        (("sign",), "thư viện PKCS#11 của thiết bị ký số"),
        (("bridge",), "mã điểm cầu trong rooms.toml"),
    ],
)
def test_every_command_helps_in_vietnamese(verb: tuple[str, ...], phrase: str) -> None:
    shown = hoinghi(*verb, "--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Cách dùng: hoinghi " + " ".join(verb)), shown.stdout[:80]
    assert phrase in shown.stdout and "in hướng dẫn này rồi thoát" in shown.stdout
    assert "show this help" not in shown.stdout and "options:" not in shown.stdout


def test_serve_refuses_a_trusted_proxy_that_is_no_address(tmp_path: Path) -> None:
    result = hoinghi("serve", "--data-dir", str(tmp_path), "--trusted-proxy", "10.0.0.5", "--trusted-proxy", "nginx.local")
    assert result.returncode == 2
    assert "--trusted-proxy" in result.stderr and "'nginx.local' không phải địa chỉ IP hay mạng" in result.stderr
    env_only = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--data-dir", str(tmp_path)], capture_output=True, text=True,
        timeout=120, env=dict(os.environ, HOINGHI_LANG="en", HOINGHI_TRUSTED_PROXIES="10.0.0.0/33"))
    assert env_only.returncode == 2 and "'10.0.0.0/33' is not an IP address or network" in env_only.stderr
    assert not (tmp_path / "hoinghi.sqlite3").exists()  # refused before anything was created


@pytest.mark.parametrize("args, vietnamese, english", [
    (("user", "add"), "Lỗi dữ liệu nhập: thiếu tham số bắt buộc: name, --role (xem hoinghi user add --help)",
     "Input error: the following arguments are required: name, --role (see hoinghi user add --help)"),
    (("serve", "--port", "tám"), "Lỗi dữ liệu nhập: tham số --port: giá trị 'tám' không hợp lệ (cần kiểu int)",
     "Input error: argument --port: invalid int value: 'tám'"),
    (("user", "add", "x", "--role", "vua"), "tham số --role: giá trị 'vua' không hợp lệ (chọn một trong: ",
     "argument --role: invalid choice: 'vua' (choose from "),
    (("bridge", "--bogus"), "Lỗi dữ liệu nhập: không có tham số này: --bogus (xem hoinghi bridge --help)",
     "Input error: unrecognized arguments: --bogus (see hoinghi bridge --help)"),
    (("bridge", "--server"), "Lỗi dữ liệu nhập: tham số --server: cần đúng một giá trị",
     "Input error: argument --server: expected one argument"),
])
def test_argument_errors_are_one_line_in_the_cli_language(args: tuple[str, ...], vietnamese: str, english: str) -> None:
    for lang, expected in (("vi", vietnamese), ("en", english)):
        result = hoinghi(*args, lang=lang)
        assert result.returncode == 2, result
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
