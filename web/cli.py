"""The `hoinghi` command: serve, user add, point token, point revoke, model install|list, ca init|serve, minutes verify, sign,
bridge (the bridge-point agent, in bridge/).

Messages are Vietnamese unless HOINGHI_LANG=en. Bad input or configuration exits with
code 2 and one line naming the file, the key and the reason.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import os
import sys
import unicodedata
from pathlib import Path
from typing import Callable, NoReturn

from clitext import Parser
from meetings.accounts import AccountError, add_account, revoke_point_token
from meetings.config import ConfigError, RoomsConfig, load_rooms_config
from meetings.config_sync import sync_rooms_config
from meetings.db import DatabaseUrlError, create_engine, normalise_url, session_factory, upgrade_schema
from meetings.models import ACCOUNT_ROLES, BridgePoint
from meetings.passwords import WeakPasswordError
from meetings.points import attach_operator
from meetings.point_tokens import hash_point_token, new_point_token
from web.logs import configure_logging
from web.minutes.cli import add_commands as add_minutes_commands
from web.settings import Settings, default_data_dir, tally_interval_from_env

_MESSAGES = {
    "vi": {
        "config_error": "Lỗi cấu hình",
        "input_error": "Lỗi dữ liệu nhập",
        "listening": "hoinghi đang chạy tại {url} — nhấn Ctrl+C để dừng.",
        "first_admin": "Đã tạo tài khoản quản trị đầu tiên: tên đăng nhập admin, mật khẩu {password} (chỉ hiển thị một lần; hãy đổi hoặc tạo tài khoản riêng bằng: hoinghi user add).",
        "stopped": "hoinghi đã dừng.",
        "password": "Mật khẩu cho {name}: ",
        "password_again": "Nhập lại mật khẩu: ",
        "password_mismatch": "hai lần nhập mật khẩu không khớp",
        "bad_proxy": "{value!r} không phải địa chỉ IP hay mạng (ví dụ 10.0.0.5 hoặc 10.0.0.0/24)",
        "password_file": "không đọc được tệp mật khẩu",
        "user_added": "Đã tạo tài khoản {name} ({role}).",
        "token_intro": "Mã truy cập mới của điểm cầu {point} (chỉ hiển thị một lần, hãy nhập vào máy tính tại điểm cầu):",
        "token_hash": "Dán dòng sau vào mục [[points]] có id = \"{point}\" trong {config}, rồi khởi động lại máy chủ:",
        "revoked": "Đã thu hồi mã truy cập của điểm cầu {point}; {count} phiên đăng nhập đã bị kết thúc.",
        "unknown_point": "không có điểm cầu nào có id {point!r}",
        "point_needs_operator": "chỉ tài khoản kỹ thuật viên (--role operator) mới gắn được với một điểm cầu",
        "model_downloading": "Đang tải {name}",
        "model_installed": "Đã cài mô hình nhận dạng giọng nói {name} vào {path} (SHA-256 của tệp zip: {sha256}). Khởi động lại máy chủ để dùng.",
        "model_none": "Chưa cài mô hình nhận dạng giọng nói nào. Cài bằng: hoinghi model install vi-small",
        "model_row": "{mark} {name}  ({size} MB)",
        "model_available": "Có thể cài: {choices}",
        "model_error.unknown_model": "không có mô hình {choice!r} (chọn một trong: {known})",
        "model_error.list_unreachable": "không tải được danh sách mô hình chính thức {url} ({reason}); khi không có mạng, dùng --from TỆP.zip, hoặc cho mã --sha256",
        "model_error.not_in_list": "danh sách {url} không có mô hình {name}",
        "model_error.download_failed": "tải {url} thất bại ({reason}); mô hình cũ vẫn giữ nguyên",
        "model_error.interrupted": "tải {url} bị ngắt giữa chừng ({got} trên {expected} byte); không có gì được cài, mô hình cũ vẫn giữ nguyên",
        "model_error.size_mismatch": "kích thước tệp là {got} byte, danh sách chính thức ghi {expected} byte; không cài",
        "model_error.checksum_mismatch": "mã kiểm tra {algorithm} không khớp (tệp: {got}, cần: {expected}); không cài, mô hình cũ vẫn giữ nguyên",
        "model_error.bad_sha256": "--sha256 cần 64 chữ số hệ mười sáu, không phải {value!r}",
        "model_error.no_such_file": "không có tệp {path}",
        "model_error.bad_zip": "tệp zip hỏng hoặc không phải zip ({reason}); mô hình cũ vẫn giữ nguyên",
        "model_error.unsafe_zip": "tệp zip chứa đường dẫn không an toàn {member!r}; không cài",
        "model_error.not_a_model": "{zip} không chứa mô hình Vosk (thiếu am/final.mdl và conf/model.conf); không cài",
    },
    "en": {
        "config_error": "Configuration error",
        "input_error": "Input error",
        "listening": "hoinghi is running at {url} — press Ctrl+C to stop.",
        "first_admin": "Created the first administrator account: username admin, password {password} (shown only once; create personal accounts with: hoinghi user add).",
        "stopped": "hoinghi stopped.",
        "password": "Password for {name}: ",
        "password_again": "Password again: ",
        "password_mismatch": "the two passwords differ",
        "bad_proxy": "{value!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)",
        "password_file": "cannot read the password file",
        "user_added": "Account {name} ({role}) created.",
        "token_intro": "New access token of bridge point {point} (shown only once; enter it on the room PC):",
        "token_hash": "Paste this line into the [[points]] entry with id = \"{point}\" in {config}, then restart the server:",
        "revoked": "Revoked the access token of bridge point {point}; {count} login sessions ended.",
        "unknown_point": "no bridge point has id {point!r}",
        "point_needs_operator": "only an operator account (--role operator) can be attached to a bridge point",
        "model_downloading": "Downloading {name}",
        "model_installed": "Installed the speech recognition model {name} into {path} (SHA-256 of the zip: {sha256}). Restart the server to use it.",
        "model_none": "No speech recognition model is installed. Install one with: hoinghi model install vi-small",
        "model_row": "{mark} {name}  ({size} MB)",
        "model_available": "Available: {choices}",
        "model_error.unknown_model": "no model {choice!r} (choose one of: {known})",
        "model_error.list_unreachable": "cannot fetch the official model list {url} ({reason}); offline, use --from FILE.zip, or give --sha256",
        "model_error.not_in_list": "the list {url} has no model {name}",
        "model_error.download_failed": "downloading {url} failed ({reason}); the previous model is untouched",
        "model_error.interrupted": "the download of {url} was cut off ({got} of {expected} bytes); nothing was installed, the previous model is untouched",
        "model_error.size_mismatch": "the file has {got} bytes, the official list says {expected}; not installed",
        "model_error.checksum_mismatch": "{algorithm} checksum mismatch (file: {got}, expected: {expected}); not installed, the previous model is untouched",
        "model_error.bad_sha256": "--sha256 needs 64 hexadecimal digits, not {value!r}",
        "model_error.no_such_file": "no file {path}",
        "model_error.bad_zip": "the zip is damaged or not a zip ({reason}); the previous model is untouched",
        "model_error.unsafe_zip": "the zip holds an unsafe path {member!r}; not installed",
        "model_error.not_a_model": "{zip} holds no Vosk model (no am/final.mdl and conf/model.conf); not installed",
    },
}


def _say(key: str, **values: object) -> str:
    lang = "en" if os.environ.get("HOINGHI_LANG", "vi").lower().startswith("en") else "vi"
    return unicodedata.normalize("NFC", _MESSAGES[lang][key].format(**values))


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


def _fail(kind: str, message: str) -> NoReturn:
    print(f"{_say(kind)}: {message}", file=sys.stderr)
    raise SystemExit(2)


def _settings(args: argparse.Namespace) -> Settings:
    extra = {k: getattr(args, k) for k in ("host", "port", "tls_cert", "tls_key") if getattr(args, k, None) is not None}
    if getattr(args, "trusted_proxy", None):
        extra["trusted_proxies"] = tuple(args.trusted_proxy)
    if args.db:
        try:
            normalise_url(args.db)
        except DatabaseUrlError as error:
            raise UsageError("--db", str(error)) from None
    try:
        extra["tally_interval_ms"] = tally_interval_from_env()
    except ValueError as error:
        raise UsageError("HOINGHI_TALLY_INTERVAL_MS", str(error)) from None
    try:
        settings = Settings.build(config_path=args.config, data_dir=args.data_dir, database_url=args.db, **extra)
    except ValueError as error:
        where, _, reason = str(error).partition(": ")
        raise UsageError(where, reason) from None
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise UsageError("--trusted-proxy", _say("bad_proxy", value=proxy)) from None
    return settings


def _load_config(settings: Settings) -> RoomsConfig:
    return load_rooms_config(settings.config_path)


async def _with_database(settings: Settings, work: Callable) -> object:  # type: ignore[type-arg]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    try:
        await upgrade_schema(engine)
        async with session_factory(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _announce(url: str, first_admin_password: str | None) -> None:
    if first_admin_password:
        print(_say("first_admin", password=first_admin_password), flush=True)
    print(_say("listening", url=url), flush=True)


def _cmd_serve(args: argparse.Namespace) -> None:
    from web.server import serve

    settings = _settings(args)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise UsageError("--tls-cert/--tls-key", "give both or neither")
    config = _load_config(settings)
    configure_logging(args.log_level)
    try:
        asyncio.run(serve(settings, config, announce=_announce))
    except OSError as error:
        raise UsageError(f"{settings.host}:{settings.port}", error.strerror or str(error)) from None
    print(_say("stopped"), flush=True)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            return Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise UsageError(args.password_file, f"{_say('password_file')} ({error.strerror})") from None
    first = getpass.getpass(_say("password", name=args.name))
    if getpass.getpass(_say("password_again")) != first:
        raise UsageError("password", _say("password_mismatch"))
    return first


def _cmd_user_add(args: argparse.Namespace) -> None:
    settings = _settings(args)
    if args.point and args.role != "operator":
        raise UsageError("--point", _say("point_needs_operator"))
    password = _read_password(args)

    async def work(session):  # type: ignore[no-untyped-def]
        if args.point:
            await sync_rooms_config(session, _load_config(settings))
            point = await session.get(BridgePoint, args.point)
            if point is None or not point.active:
                raise UsageError("--point", _say("unknown_point", point=args.point))
        account = await add_account(session, args.name, args.role, password, args.display_name)
        if args.point:
            await attach_operator(session, account.username, args.point)
        return account

    try:
        account = asyncio.run(_with_database(settings, work))
    except (AccountError, WeakPasswordError) as error:
        raise UsageError(args.name, str(error)) from None
    print(_say("user_added", name=account.username, role=account.role))  # type: ignore[attr-defined]


def _cmd_point_token(args: argparse.Namespace) -> None:
    settings = _settings(args)
    config = _load_config(settings)
    if config.point(args.point_id) is None:
        raise UsageError(settings.config_path.name, _say("unknown_point", point=args.point_id))
    token = new_point_token()
    print(_say("token_intro", point=args.point_id))
    print(f"  {token}")
    print(_say("token_hash", point=args.point_id, config=settings.config_path))
    print(f'  token_hash = "{hash_point_token(token)}"')


def _cmd_point_revoke(args: argparse.Namespace) -> None:
    settings = _settings(args)
    config = _load_config(settings)

    async def work(session):  # type: ignore[no-untyped-def]
        await sync_rooms_config(session, config)
        return await revoke_point_token(session, args.point_id)

    try:
        count = asyncio.run(_with_database(settings, work))
    except AccountError as error:
        raise UsageError(args.point_id, str(error)) from None
    print(_say("revoked", point=args.point_id, count=count))


def _cmd_model_install(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from transcription import models

    data_dir = args.data_dir or default_data_dir()
    bar: tqdm | None = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                       desc=_say("model_downloading", name=models.CATALOGUE.get(args.model, args.model)))
        bar.update(done - bar.n)

    try:
        path, digest = models.install(
            data_dir, args.model, base_url=args.base_url or os.environ.get("HOINGHI_MODEL_URL") or models.OFFICIAL_BASE_URL,
            from_file=args.from_file, sha256=args.sha256, progress=progress,
        )
    except models.ModelError as error:
        raise UsageError(args.model, _say(f"model_error.{error.code}", **error.detail)) from None
    finally:
        if bar is not None:
            bar.close()
    print(_say("model_installed", name=path.name, path=path, sha256=digest))


def _cmd_model_list(args: argparse.Namespace) -> None:
    from transcription import models

    rows = models.installed(args.data_dir or default_data_dir())
    if not rows:
        print(_say("model_none"))
    for name, size, active in rows:
        print(_say("model_row", mark="*" if active else " ", name=name, size=round(size / 1e6, 1)))
    print(_say("model_available", choices=", ".join(f"{k} ({v})" for k, v in models.CATALOGUE.items())))


_HELP = {
    "vi": {
        "config": "tệp rooms.toml (mặc định: ./rooms.toml, nếu không có thì tệp mẫu kèm theo)",
        "db": "địa chỉ cơ sở dữ liệu (mặc định: SQLite trong thư mục dữ liệu)",
        "data_dir": "thư mục dữ liệu (mặc định: $HOINGHI_DATA_DIR hoặc ./hoinghi-data)",
        "serve": "chạy máy chủ", "host": "địa chỉ lắng nghe (mặc định 127.0.0.1)", "port": "cổng (mặc định 8080)",
        "tls_cert": "chứng thư PEM (mặc định: tự ký, khi không chạy trên 127.0.0.1)", "tls_key": "khóa riêng PEM",
        "trusted_proxy": "địa chỉ (hoặc mạng) của proxy ngược kết thúc TLS phía trước; lặp lại được (mặc định: $HOINGHI_TRUSTED_PROXIES)",
        "log_level": "mức ghi nhật ký", "user": "quản lý tài khoản", "user_add": "tạo tài khoản",
        "name": "tên đăng nhập", "role": "vai trò", "display_name": "họ và tên hiển thị trong cuộc họp và biên bản",
        "password_file": "đọc mật khẩu từ tệp này thay vì hỏi", "point_of_operator": "với kỹ thuật viên: điểm cầu (id trong rooms.toml) mà tài khoản phụ trách",
        "point": "quản lý điểm cầu", "point_token": "cấp mã truy cập mới cho một điểm cầu",
        "point_revoke": "thu hồi mã truy cập hiện tại của một điểm cầu", "point_id": "id của điểm cầu trong rooms.toml",
        "model": "mô hình nhận dạng giọng nói (Vosk)", "model_install": "tải (hoặc --from tệp zip có sẵn) và cài một mô hình",
        "model_name": "vi-small (vosk-model-small-vn-0.4) hoặc vi (vosk-model-vn-0.4)",
        "from_file": "cài từ tệp zip có sẵn trên máy (mạng không ra Internet)",
        "sha256": "mã SHA-256 của tệp zip, kiểm tra thay cho MD5 của danh sách chính thức",
        "model_list": "liệt kê các mô hình đã cài",
        "bridge": "chạy thiết bị của một điểm cầu không cần trình duyệt (hoinghi bridge --help)",
    },
    "en": {
        "config": "rooms.toml (default: ./rooms.toml, else the bundled sample)",
        "db": "database URL (default: SQLite in the data directory)",
        "data_dir": "data directory (default: $HOINGHI_DATA_DIR or ./hoinghi-data)",
        "serve": "run the server", "host": "address to listen on (default 127.0.0.1)", "port": "port (default 8080)",
        "tls_cert": "PEM certificate (default: self-signed, off loopback)", "tls_key": "PEM private key",
        "trusted_proxy": "address (or network) of a TLS-terminating reverse proxy in front; repeatable (default: $HOINGHI_TRUSTED_PROXIES)",
        "log_level": "log level", "user": "manage accounts", "user_add": "create an account",
        "name": "username", "role": "role", "display_name": "full name shown in meetings and minutes",
        "password_file": "read the password from this file instead of prompting",
        "point_of_operator": "operators: the bridge point (id in rooms.toml) this account runs",
        "point": "manage bridge points", "point_token": "issue a new access token for a bridge point",
        "point_revoke": "revoke a bridge point's current token", "point_id": "the bridge point's id in rooms.toml",
        "model": "speech recognition models (Vosk)", "model_install": "download (or --from a zip on disk) and install a model",
        "model_name": "vi-small (vosk-model-small-vn-0.4) or vi (vosk-model-vn-0.4)",
        "from_file": "install this zip, already on disk (offline networks)",
        "sha256": "the zip's SHA-256, checked instead of the official list's MD5",
        "model_list": "show the installed models",
        "bridge": "run a bridge point's devices without a browser (hoinghi bridge --help)",
    },
}


def _help(key: str) -> str:
    lang = "en" if os.environ.get("HOINGHI_LANG", "vi").lower().startswith("en") else "vi"
    return _HELP[lang][key]


class _Parser(Parser):
    """Every (sub)command in the CLI's language (clitext)."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hoinghi", description="Hội nghị truyền hình trực tuyến — hoinghi")
    common = _Parser(add_help=False)
    common.add_argument("--config", type=Path, help=_help("config"))
    common.add_argument("--db", help=_help("db"))
    common.add_argument("--data-dir", type=Path, help=_help("data_dir"))
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    serve = verbs.add_parser("serve", parents=[common], help=_help("serve"))
    serve.add_argument("--host", default="127.0.0.1", help=_help("host"))
    serve.add_argument("--port", type=int, default=8080, help=_help("port"))
    serve.add_argument("--tls-cert", type=Path, help=_help("tls_cert"))
    serve.add_argument("--tls-key", type=Path, help=_help("tls_key"))
    serve.add_argument("--trusted-proxy", action="append", metavar="ADDRESS", help=_help("trusted_proxy"))
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help=_help("log_level"))
    serve.set_defaults(run=_cmd_serve)

    user = verbs.add_parser("user", help=_help("user")).add_subparsers(dest="user_verb", required=True, parser_class=_Parser)
    user_add = user.add_parser("add", parents=[common], help=_help("user_add"))
    user_add.add_argument("name", help=_help("name"))
    user_add.add_argument("--role", required=True, choices=ACCOUNT_ROLES, help=_help("role"))
    user_add.add_argument("--display-name", help=_help("display_name"))
    user_add.add_argument("--password-file", help=_help("password_file"))
    user_add.add_argument("--point", help=_help("point_of_operator"))
    user_add.set_defaults(run=_cmd_user_add)

    point = verbs.add_parser("point", help=_help("point")).add_subparsers(dest="point_verb", required=True, parser_class=_Parser)
    token = point.add_parser("token", parents=[common], help=_help("point_token"))
    token.add_argument("point_id", help=_help("point_id"))
    token.set_defaults(run=_cmd_point_token)
    revoke = point.add_parser("revoke", parents=[common], help=_help("point_revoke"))
    revoke.add_argument("point_id", help=_help("point_id"))
    revoke.set_defaults(run=_cmd_point_revoke)

    model = verbs.add_parser("model", help=_help("model")).add_subparsers(dest="model_verb", required=True, parser_class=_Parser)
    data_only = _Parser(add_help=False)
    data_only.add_argument("--data-dir", type=Path, help=_help("data_dir"))
    install = model.add_parser("install", parents=[data_only], help=_help("model_install"))
    install.add_argument("model", help=_help("model_name"))
    install.add_argument("--from", dest="from_file", type=Path, help=_help("from_file"))
    install.add_argument("--sha256", help=_help("sha256"))
    install.add_argument("--base-url", help=argparse.SUPPRESS)  # a mirror of the official model directory
    install.set_defaults(run=_cmd_model_install)
    listing = model.add_parser("list", parents=[data_only], help=_help("model_list"))
    listing.set_defaults(run=_cmd_model_list)
    add_minutes_commands(verbs, common)  # ca init|serve, minutes verify, sign
    verbs.add_parser("bridge", add_help=False, help=_help("bridge"))
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bridge"]:  # the bridge-point agent has its own arguments (bridge/cli.py)
        from bridge.cli import main as bridge_main

        bridge_main(argv[1:])
        return
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except ConfigError as error:
        _fail("config_error", str(error))
    except UsageError as error:
        _fail("input_error", str(error))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
