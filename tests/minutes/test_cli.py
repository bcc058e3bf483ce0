"""`hoinghi ca init`, `hoinghi minutes verify` and `hoinghi sign` as their users run them."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from meetings.db import create_engine, session_factory, sqlite_url, upgrade_schema
from meetings.minutes import keys, pades
from tests.control.helpers import make_accounts
from tests.conftest import REPO
from tests.minutes.conftest import LocalCA, in_thread
from tests.minutes.test_signing import CHAIR, SECRETARY, prepared_pdf, sign_with_config


def hoinghi(*args: str, lang: str = "vi", cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={"HOINGHI_LANG": lang, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})


def test_ca_init_writes_keys_for_chairs_and_secretaries_and_warns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    async def seed() -> None:
        engine = create_engine(sqlite_url(data / "hoinghi.sqlite3"))
        await upgrade_schema(engine)
        async with session_factory(engine)() as session:
            await make_accounts(session, [("chutoa", "chair", "Nguyễn Văn Ánh"), ("thuky", "secretary", "Phạm Thu Hà"),
                                          ("daibieu", "delegate", "Lê Văn C")])
        await engine.dispose()

    asyncio.run(seed())
    done = hoinghi("ca", "init", "--data-dir", str(data), "--seal")
    assert done.returncode == 0, done.stderr
    assert "CẢNH BÁO: chỉ dùng để thử nghiệm" in done.stderr and "2 tài khoản" in done.stdout
    config = keys.load_signing_config(data / "signing" / "signing.toml")
    assert sorted(config.keys) == ["chutoa", "thuky"] and config.tsa_url == "http://127.0.0.1:8079/tsa"
    assert isinstance(config.seal, keys.Pkcs12Key)
    with keys.open_signer(config.keys["thuky"], "Phạm Thu Hà") as signer:
        assert signer.signing_cert.subject.native["common_name"] == "Phạm Thu Hà"
    before = (data / "signing" / "signing.toml").read_bytes()
    again = hoinghi("ca", "init", "--data-dir", str(data))
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1 and "đã có" in again.stderr
    assert (data / "signing" / "signing.toml").read_bytes() == before
    unknown = hoinghi("ca", "init", "--data-dir", str(tmp_path / "other"), "--accounts", "khongco", lang="en")
    assert unknown.returncode == 2 and "no account 'khongco'" in unknown.stderr


async def test_minutes_verify_exit_codes_and_languages(test_ca: LocalCA, pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust = pades.Trust(test_ca.config.trust_roots)
    pdf = await sign_with_config(prepared_pdf(), test_ca, "thuky", SECRETARY, trust)
    pdf = await sign_with_config(pdf, test_ca, "chutoa", CHAIR, trust)
    good = tmp_path / "bien-ban.pdf"
    good.write_bytes(pdf)
    bad = tmp_path / "sua.pdf"
    bad.write_bytes(pdf[:len(pdf) // 2] + bytes([pdf[len(pdf) // 2] ^ 0xFF]) + pdf[len(pdf) // 2 + 1:])
    root = str(test_ca.directory / "ca" / "root.pem")

    def run(*args: str, lang: str = "vi") -> subprocess.CompletedProcess[str]:
        return hoinghi("minutes", "verify", *args, lang=lang)

    valid = await in_thread_call(run, str(good), "--trust-root", root)
    assert valid.returncode == 0 and "Kết luận: tài liệu HỢP LỆ." in valid.stdout and "Phạm Thu Hà" in valid.stdout
    english = await in_thread_call(run, str(good), "--trust-root", root, lang="en")
    assert english.returncode == 0 and "Result: the document is VALID." in english.stdout
    untrusted = await in_thread_call(run, str(good))  # no trust root given nor configured
    assert untrusted.returncode == 1 and "tin cậy: không" in untrusted.stdout
    tampered = await in_thread_call(run, str(bad), "--trust-root", root)
    assert tampered.returncode == 1 and "KHÔNG HỢP LỆ" in tampered.stdout
    missing = await in_thread_call(run, str(tmp_path / "khong-co.pdf"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    not_pdf = tmp_path / "a.pdf"
    not_pdf.write_text("xin chào")
    refused = await in_thread_call(run, str(not_pdf))
    assert refused.returncode == 2 and "Tệp" in refused.stderr


async def in_thread_call(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    """A blocking CLI run, off this loop (it serves the CRL the verifier does not fetch anyway)."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: function(*args, **kwargs))


def test_sign_reports_an_unreachable_server_in_one_line(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x")
    done = hoinghi("sign", "--server", "http://127.0.0.1:9", "--meeting", "1", "--user", "chutoa",
                   "--password-file", str(secret), "--pkcs11-lib", str(tmp_path / "none.so"), "--token-label", "t",
                   "--key-label", "k", "--pin-file", str(secret))
    *progress, last = done.stderr.strip().splitlines()  # progress lines, then the one error line
    assert done.returncode == 2 and progress == ["Đăng nhập http://127.0.0.1:9 với tài khoản chutoa…"]
    assert last.startswith("Lỗi dữ liệu nhập: --server: không kết nối được máy chủ")
