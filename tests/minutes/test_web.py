"""The minutes through the server: draft, edit, comment, send, sign on the server (PKCS#12),
sign on the chair's machine (`hoinghi sign` with a SoftHSM2 token), publish, download, verify."""
from __future__ import annotations

import asyncio
import base64
import os
import shutil
import sys
from pathlib import Path

import aiohttp
from sqlalchemy import select

from meetings.control_models import AuditEntry
from meetings.models import Account
from meetings.passwords import hash_password
from tests.control.conftest import cookie_for
from tests.minutes.conftest import LocalCA, Token, pdfsig
from tests.minutes.test_drafting import held_meeting
from web.auth import SESSION_COOKIE

CHAIR_PASSWORD = "mật khẩu chủ tọa 2026"


async def hoinghi(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The CLI as a separate process; awaited, so this loop keeps serving the server it calls."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_minutes_signed_by_both_published_and_verified(server, test_ca: LocalCA, pki, softhsm_token: Token,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    state = server.state
    shutil.copytree(test_ca.directory, state.settings.data_dir / "signing")
    world, item, _ = await held_meeting(state.sessions)
    async with state.sessions() as s:
        (await s.get(Account, world.chair)).password_hash = hash_password(CHAIR_PASSWORD)
        await s.commit()
    cookies = {who: await cookie_for(server, account, world.names[account], role)
               for who, account, role in (("secretary", world.secretary, "secretary"), ("chair", world.chair, "chair"),
                                          ("delegate", world.delegates[0], "delegate"))}
    api = f"{server.url}/api/meetings/{world.meeting_id}"

    def http(who: str | None) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers={"Cookie": f"{SESSION_COOKIE}={cookies[who]}"} if who else {})

    async def post(who: str, path: str, body: dict) -> tuple[int, dict]:  # type: ignore[type-arg]
        async with http(who) as client, client.post(api + path, json=body) as response:
            return response.status, await response.json()

    assert (await post("secretary", "/minutes/draft", {}))[1]["version"] == 1
    async with http("secretary") as client, client.get(f"{server.url}/meetings/{world.meeting_id}/minutes") as page:
        html = await page.text()
    assert page.status == 200 and "ưu tiên vốn cho các công trình giao thông" in html and "Thành phần tham dự" in html
    assert (await post("chair", "/minutes/comments", {"version": 1, "text": "Ghi rõ số vốn.", "section": f"item:{item}"}))[0] == 200
    assert (await post("chair", "/minutes/edit", {"base": 1, "edits": {"number": "x"}}))[0] == 403
    status, edited = await post("secretary", "/minutes/edit", {"base": 1, "edits": {"number": "Số: 7/BB-UBND"}})
    assert status == 200 and edited["version"] == 2
    status, sent = await post("secretary", "/minutes/send", {"base": 2})
    assert status == 200 and len(sent["sha256"]) == 64
    assert (await post("chair", "/minutes/sign", {}))[0] == 403  # the secretary signs first
    status, first = await post("secretary", "/minutes/sign", {})
    assert status == 200 and first["role"] == "secretary", first

    password_file = tmp_path / "password"
    password_file.write_text(CHAIR_PASSWORD)
    code, out, err = await hoinghi(
        "sign", "--server", server.url, "--meeting", str(world.meeting_id), "--user", "chutoa",
        "--password-file", str(password_file), "--pkcs11-lib", str(softhsm_token.module),
        "--token-label", softhsm_token.label, "--key-label", softhsm_token.label, "--pin-file", str(softhsm_token.pin_file),
        env={**softhsm_token.env, "HOINGHI_LANG": "vi"},
    )
    assert code == 0, err
    assert "Đã ký. Tệp mới có SHA-256" in out and "đang ký trên token" in err
    signed_sha = out.split("SHA-256 ")[1].strip().rstrip(".")

    assert (await post("delegate", "/minutes/publish", {}))[0] == 403
    status, published = await post("secretary", "/minutes/publish", {})
    assert status == 200 and published["sha256"] == signed_sha
    async with http("delegate") as client:
        async with client.get(f"{api}/minutes/files/{signed_sha}.pdf") as response:
            assert response.status == 200
            pdf = await response.read()
        async with client.get(f"{api}/minutes/files/{first['sha256']}.pdf") as response:
            assert response.status == 404  # only the published file is the participants'
    found = [s for s in pdfsig(pdf, tmp_path) if "Signature Validation" in s]
    assert [s["Signature Field Name"] for s in found] == ["ThuKy", "ChuToa"]
    assert all(s["Signature Validation"] == "Signature is Valid." for s in found)

    async with http(None) as client:  # the public verification API: no login
        async with client.post(f"{server.url}/api/verify", json={"pdf": base64.b64encode(pdf).decode()}) as response:
            checked = await response.json()
        tampered = bytearray(pdf)
        tampered[len(pdf) // 3] ^= 0xFF
        async with client.post(f"{server.url}/api/verify", json={"pdf": base64.b64encode(bytes(tampered)).decode()}) as response:
            refused = await response.json()
    assert checked["ok"] and [s["signer"] for s in checked["report"]["signatures"]] == ["Phạm Thu Hà", "Nguyễn Văn Ánh"]
    assert checked["report"]["signatures"][1]["timestamp_valid"]
    assert not refused["ok"]
    async with state.sessions() as s:
        actions = list((await s.execute(select(AuditEntry.action).where(AuditEntry.meeting_id == world.meeting_id))).scalars())
    for action in ("minutes_draft", "minutes_comment", "minutes_edit", "minutes_send", "minutes_sign", "minutes_publish"):
        assert action in actions
    assert actions.count("minutes_sign") == 2


async def test_the_public_verification_page_in_both_languages(server) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{server.url}/verify") as page:
            assert page.status == 200 and "Kiểm tra chữ ký số của biên bản" in await page.text()
        async with client.get(f"{server.url}/verify?lang=en") as page:
            assert page.status == 200 and "Verify the digital signatures of minutes" in await page.text()
        async with client.post(f"{server.url}/api/verify", json={"pdf": base64.b64encode(b"%PDF-1.4 garbage").decode()}) as response:
            refused = await response.json()
        assert response.status == 400 and refused["error"] in ("not_pdf", "no_signatures"), refused
        async with client.post(f"{server.url}/api/verify", json={"pdf": "***"}) as response:
            assert response.status == 400 and (await response.json())["error"] == "not_pdf"
        async with client.get(f"{server.url}/api/openapi.json") as response:
            paths = (await response.json())["paths"]
    assert "post" in paths["/api/meetings/{meeting_id}/minutes/sign/prepare"] and "post" in paths["/api/verify"]
