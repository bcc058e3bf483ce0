"""Commands of the minutes: `hoinghi ca init|serve`, `hoinghi minutes verify`, `hoinghi sign`.

`hoinghi sign` runs on the signer's own computer: it logs in, sends the token's certificate,
signs the attributes the server prepared with the token (the key never leaves it), adds a
timestamp from the server's TSA, and sends the CMS back. Messages are Vietnamese unless
HOINGHI_LANG=en; bad input exits 2 with one line, `minutes verify` exits 1 for an invalid file.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import json
import os
import sys
import unicodedata
from pathlib import Path
from typing import NoReturn

MESSAGES = {
    "vi": {
        "input_error": "Lỗi dữ liệu nhập",
        "ca_written": "Đã tạo CA thử nghiệm, khóa TSA và tệp PKCS#12 cho {count} tài khoản trong {path}.",
        "ca_warning": "CẢNH BÁO: chỉ dùng để thử nghiệm và trình diễn. Khi vận hành thật, biên bản phải được ký bằng chứng thư số của cơ quan (Ban Cơ yếu Chính phủ, VNPT-CA, Viettel-CA).",
        "ca_serve": "Dịch vụ cấp dấu thời gian và CRL của CA thử nghiệm đang chạy tại {url} — nhấn Ctrl+C để dừng.",
        "no_accounts": "không có tài khoản chủ tọa hoặc thư ký nào; hãy tạo bằng hoinghi user add hoặc dùng --accounts",
        "unknown_account": "không có tài khoản {name!r}",
        "ca_exists": "{path} đã có; xóa thư mục đó hoặc chọn --dir khác",
        "login": "Đăng nhập {server} với tài khoản {user}…",
        "login_failed": "đăng nhập thất bại (HTTP {status})",
        "token": "Mở token {label} qua {lib}…",
        "prepared": "Máy chủ đã chuẩn bị biên bản để ký ({role}); đang ký trên token…",
        "timestamp": "Lấy dấu thời gian từ {url}…",
        "signed": "Đã ký. Tệp mới có SHA-256 {sha256}.",
        "server_error": "máy chủ từ chối: {message}",
        "password": "Mật khẩu của {user}: ",
        "pin": "Mã PIN của token {label}: ",
        "unreadable": "không đọc được tệp: {reason}",
        "cannot_reach": "không kết nối được máy chủ: {reason}",
    },
    "en": {
        "input_error": "Input error",
        "ca_written": "Created a test CA, a TSA key and PKCS#12 files for {count} accounts in {path}.",
        "ca_warning": "WARNING: for tests and demonstrations only. In production the minutes are signed with the agency's own certificates (Ban Cơ yếu Chính phủ, VNPT-CA, Viettel-CA).",
        "ca_serve": "The test CA's timestamp service and CRL run at {url} — press Ctrl+C to stop.",
        "no_accounts": "no chair or secretary account; create them with hoinghi user add or give --accounts",
        "unknown_account": "no account {name!r}",
        "ca_exists": "{path} exists already; delete it or choose another --dir",
        "login": "Logging in to {server} as {user}…",
        "login_failed": "login failed (HTTP {status})",
        "token": "Opening token {label} through {lib}…",
        "prepared": "The server prepared the minutes for signing ({role}); signing on the token…",
        "timestamp": "Timestamp from {url}…",
        "signed": "Signed. The new file's SHA-256 is {sha256}.",
        "server_error": "the server refused: {message}",
        "password": "Password of {user}: ",
        "pin": "PIN of token {label}: ",
        "unreadable": "cannot read the file: {reason}",
        "cannot_reach": "cannot reach the server: {reason}",
    },
}


def lang() -> str:
    return "en" if os.environ.get("HOINGHI_LANG", "vi").lower().startswith("en") else "vi"


def say(key: str, **values: object) -> str:
    return unicodedata.normalize("NFC", MESSAGES[lang()][key].format(**values))


def fail(where: str, reason: str) -> NoReturn:
    print(f"{say('input_error')}: {where}: {reason}", file=sys.stderr)
    raise SystemExit(2)


def _data_dir(args: argparse.Namespace) -> Path:
    from web.settings import default_data_dir

    return args.data_dir or default_data_dir()


def _secret(path: Path | None, prompt: str) -> str:
    if path is None:
        return getpass.getpass(prompt)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        fail(str(path), say("unreadable", reason=error.strerror))


async def _accounts(database_url: str, names: list[str] | None):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from meetings.db import create_engine, session_factory, upgrade_schema
    from meetings.minutes.testca import AccountKey
    from meetings.models import Account

    engine = create_engine(database_url)
    try:
        await upgrade_schema(engine)
        async with session_factory(engine)() as session:
            query = select(Account).where(Account.username.in_(names)) if names else select(Account).where(
                Account.role.in_(("chair", "secretary")), Account.disabled.is_(False))
            rows = list((await session.execute(query.order_by(Account.username))).scalars())
    finally:
        await engine.dispose()
    found = {a.username for a in rows}
    for name in names or []:
        if name not in found:
            fail("--accounts", say("unknown_account", name=name))
    return [AccountKey(a.username, a.display_name, a.position) for a in rows]


def cmd_ca_init(args: argparse.Namespace) -> None:
    from meetings.config import ConfigError, load_rooms_config
    from meetings.db import sqlite_url
    from meetings.minutes.testca import init_ca
    from web.settings import default_config_path

    data_dir = _data_dir(args)
    target = args.dir or data_dir / "signing"
    if (target / "ca").exists():
        fail(str(target), say("ca_exists", path=target / "ca"))
    try:
        organisation = args.organisation or load_rooms_config(args.config or default_config_path()).province.agency
    except ConfigError as error:
        fail("--config", str(error))
    data_dir.mkdir(parents=True, exist_ok=True)
    url = args.db or os.environ.get("HOINGHI_DB") or sqlite_url(data_dir / "hoinghi.sqlite3")
    accounts = asyncio.run(_accounts(url, args.accounts.split(",") if args.accounts else None))
    if not accounts:
        fail("--accounts", say("no_accounts"))
    init_ca(target, organisation, accounts, args.base_url, seal=args.seal)
    print(say("ca_written", count=len(accounts), path=target))
    print(say("ca_warning"), file=sys.stderr)


def cmd_ca_serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    from web.pki import create_pki_app

    directory = (args.dir or _data_dir(args) / "signing") / "ca"
    if not (directory / "root.pem").exists():
        fail(str(directory), say("unreadable", reason="root.pem missing: run hoinghi ca init first"))
    print(say("ca_serve", url=f"http://{args.host}:{args.port}"), flush=True)
    web.run_app(create_pki_app(directory), host=args.host, port=args.port, print=None)


def cmd_minutes_verify(args: argparse.Namespace) -> None:
    from meetings.minutes import keys
    from meetings.minutes.messages import MinutesError
    from meetings.minutes.verify import describe, verify_pdf

    try:
        pdf = args.file.read_bytes()
    except OSError as error:
        fail(str(args.file), say("unreadable", reason=error.strerror))
    roots = []
    try:
        for path in args.trust_root or []:
            roots += keys.load_certificates(path)
        config = _data_dir(args) / "signing" / "signing.toml"
        if not args.trust_root and config.exists():
            roots = keys.load_signing_config(config).trust_roots
        report = verify_pdf(pdf, roots)
    except (OSError, ValueError) as error:
        fail("--trust-root", str(error))
    except MinutesError as error:
        fail(str(args.file), error.text(lang()))
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(describe(report, lang())))
    raise SystemExit(0 if report.ok else 1)


async def _sign(args: argparse.Namespace, password: str, pin: str | None) -> str:
    import aiohttp
    from asn1crypto import cms
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign import pkcs11
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

    server = args.server.rstrip("/")
    api = f"{server}/api/meetings/{args.meeting}/minutes/sign"
    print(say("login", server=server, user=args.user), file=sys.stderr)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{server}/login", json={"username": args.user, "password": password}) as response:
            if response.status != 200:
                fail("--user", say("login_failed", status=response.status))
        print(say("token", label=args.token_label, lib=args.pkcs11_lib), file=sys.stderr)
        session = pkcs11.open_pkcs11_session(str(args.pkcs11_lib), user_pin=pin,
                                             token_criteria=TokenCriteria(label=args.token_label))
        try:
            signer = pkcs11.PKCS11Signer(session, cert_label=args.cert_label or args.key_label,
                                         key_label=args.key_label, other_certs_to_pull=None)
            chain = [c for c in (signer.cert_registry or []) if c.dump() != signer.signing_cert.dump()]
            body = {"certificate": base64.b64encode(signer.signing_cert.dump()).decode(),
                    "chain": [base64.b64encode(c.dump()).decode() for c in chain]}
            async with http.post(f"{api}/prepare", json=body, params={"lang": lang()}) as response:
                prepared = await response.json()
            if not prepared.get("ok"):
                fail("--server", say("server_error", message=prepared.get("message", prepared)))
            print(say("prepared", role=prepared["role"]), file=sys.stderr)
            timestamper = None
            if prepared.get("tsa_url"):
                print(say("timestamp", url=prepared["tsa_url"]), file=sys.stderr)
                timestamper = RequestsHTTPTimeStamper(prepared["tsa_url"], timeout=30)
            content = await signer.async_sign_prescribed_attributes(
                "sha256", signed_attrs=cms.CMSAttributes.load(base64.b64decode(prepared["signed_attrs"])),
                timestamper=timestamper,
            )
        finally:
            session.close()
        async with http.post(f"{api}/finish", json={"token": prepared["token"],
                                                    "cms": base64.b64encode(content.dump()).decode()},
                             params={"lang": lang()}) as response:
            finished = await response.json()
    if not finished.get("ok"):
        fail("--server", say("server_error", message=finished.get("message", finished)))
    return finished["sha256"]


def cmd_sign(args: argparse.Namespace) -> None:
    import aiohttp

    password = _secret(args.password_file, say("password", user=args.user))
    pin = _secret(args.pin_file, say("pin", label=args.token_label)) if args.pin_file or sys.stdin.isatty() else None
    try:
        sha = asyncio.run(_sign(args, password, pin))
    except aiohttp.ClientError as error:
        fail("--server", say("cannot_reach", reason=error))
    except Exception as error:  # the token library's errors: report which and why, in one line
        if isinstance(error, SystemExit):
            raise
        fail("--pkcs11-lib", f"{type(error).__name__}: {error}")
    print(say("signed", sha256=sha))


HELP = {
    "vi": {
        "ca": "cơ quan chứng thực THỬ NGHIỆM tại chỗ (trình diễn, phát triển)",
        "ca_init": "tạo CA thử nghiệm, khóa TSA và tệp PKCS#12 cho từng tài khoản",
        "ca_dir": "thư mục lưu (mặc định: DATA_DIR/signing, nơi máy chủ đọc)",
        "ca_accounts": "tên đăng nhập, cách nhau bằng dấu phẩy (mặc định: mọi chủ tọa và thư ký)",
        "ca_organisation": "tên cơ quan trong chứng thư (mặc định: agency trong rooms.toml)",
        "ca_base_url": "địa chỉ mà hoinghi ca serve sẽ trả lời",
        "ca_seal": "tạo thêm tệp PKCS#12 cho con dấu của cơ quan (văn thư dùng)",
        "ca_serve": "phục vụ dấu thời gian (/tsa) và CRL của CA thử nghiệm",
        "ca_serve_dir": "thư mục đã dùng cho ca init (mặc định: DATA_DIR/signing)",
        "host": "địa chỉ lắng nghe",
        "port": "cổng lắng nghe",
        "minutes": "biên bản cuộc họp",
        "verify": "kiểm tra chữ ký số của một tệp PDF biên bản",
        "file": "tệp PDF cần kiểm tra",
        "trust_root": "chứng thư CA tin cậy (PEM hoặc DER); có thể lặp lại",
        "json": "in kết quả dạng JSON",
        "sign": "ký biên bản trên máy tính này bằng thiết bị ký số PKCS#11 (USB token)",
        "server": "máy chủ hoinghi, ví dụ https://hop.quangninh.gov.vn",
        "meeting": "mã số cuộc họp",
        "user": "tên đăng nhập của bạn trên máy chủ",
        "password_file": "đọc mật khẩu từ tệp này thay vì hỏi",
        "pkcs11_lib": "thư viện PKCS#11 của thiết bị ký số (.so)",
        "token_label": "nhãn của thiết bị ký số",
        "key_label": "nhãn của khóa ký",
        "cert_label": "nhãn của chứng thư (mặc định: như nhãn khóa)",
        "pin_file": "đọc mã PIN từ tệp này (mặc định: hỏi, hoặc bàn phím PIN của thiết bị)",
    },
    "en": {
        "ca": "a local TEST certificate authority (demos, development)",
        "ca_init": "create a test CA, a TSA key and PKCS#12 files per account",
        "ca_dir": "where (default: DATA_DIR/signing, which the server reads)",
        "ca_accounts": "usernames, comma-separated (default: every chair and secretary)",
        "ca_organisation": "the organisation in the certificates (default: rooms.toml's agency)",
        "ca_base_url": "where hoinghi ca serve will answer",
        "ca_seal": "also a PKCS#12 for the agency's seal (applied by the clerk)",
        "ca_serve": "serve the test CA's timestamps (/tsa) and CRL",
        "ca_serve_dir": "the directory given to ca init (default: DATA_DIR/signing)",
        "host": "address to listen on",
        "port": "port to listen on",
        "minutes": "meeting minutes",
        "verify": "verify the signatures of a minutes PDF",
        "file": "the PDF to check",
        "trust_root": "a trusted CA certificate (PEM or DER); may be repeated",
        "json": "the report as JSON",
        "sign": "sign minutes on this computer with a PKCS#11 token (USB)",
        "server": "the hoinghi server, e.g. https://hop.quangninh.gov.vn",
        "meeting": "the meeting's number",
        "user": "your username on the server",
        "password_file": "read the password from this file instead of prompting",
        "pkcs11_lib": "the token's PKCS#11 library (.so)",
        "token_label": "the token's label",
        "key_label": "the signing key's label",
        "cert_label": "the certificate's label (default: the key label)",
        "pin_file": "read the PIN from this file (default: prompt, or the token's own PIN pad)",
    },
}


def _h(key: str) -> str:
    """--help text in the CLI's language (web/cli.py's parsers give the section titles)."""
    return HELP[lang()][key]


def add_commands(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    ca = verbs.add_parser("ca", help=_h("ca")).add_subparsers(dest="ca_verb", required=True)
    init = ca.add_parser("init", parents=[common], help=_h("ca_init"))
    init.add_argument("--dir", type=Path, help=_h("ca_dir"))
    init.add_argument("--accounts", help=_h("ca_accounts"))
    init.add_argument("--organisation", help=_h("ca_organisation"))
    init.add_argument("--base-url", default="http://127.0.0.1:8079", help=_h("ca_base_url"))
    init.add_argument("--seal", action="store_true", help=_h("ca_seal"))
    init.set_defaults(run=cmd_ca_init)
    serve = ca.add_parser("serve", parents=[common], help=_h("ca_serve"))
    serve.add_argument("--dir", type=Path, help=_h("ca_serve_dir"))
    serve.add_argument("--host", default="127.0.0.1", help=_h("host"))
    serve.add_argument("--port", type=int, default=8079, help=_h("port"))
    serve.set_defaults(run=cmd_ca_serve)

    minutes = verbs.add_parser("minutes", help=_h("minutes")).add_subparsers(dest="minutes_verb", required=True)
    check = minutes.add_parser("verify", parents=[common], help=_h("verify"))
    check.add_argument("file", type=Path, help=_h("file"))
    check.add_argument("--trust-root", type=Path, action="append", help=_h("trust_root"))
    check.add_argument("--json", action="store_true", help=_h("json"))
    check.set_defaults(run=cmd_minutes_verify)

    sign = verbs.add_parser("sign", help=_h("sign"))
    sign.add_argument("--server", required=True, help=_h("server"))
    sign.add_argument("--meeting", type=int, required=True, help=_h("meeting"))
    sign.add_argument("--user", required=True, help=_h("user"))
    sign.add_argument("--password-file", type=Path, help=_h("password_file"))
    sign.add_argument("--pkcs11-lib", type=Path, required=True, help=_h("pkcs11_lib"))
    sign.add_argument("--token-label", required=True, help=_h("token_label"))
    sign.add_argument("--key-label", required=True, help=_h("key_label"))
    sign.add_argument("--cert-label", help=_h("cert_label"))
    sign.add_argument("--pin-file", type=Path, help=_h("pin_file"))
    sign.set_defaults(run=cmd_sign)
