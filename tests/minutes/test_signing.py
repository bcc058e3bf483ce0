"""PAdES signatures by secretary and chair with each key kind, checked by pyHanko and pdfsig."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from pyhanko.pdf_utils.generic import NameObject, TextStringObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from meetings.minutes import keys, pades, remote, testca, verify
from meetings.minutes.drafting import draft
from meetings.minutes.messages import MinutesError
from meetings.minutes.render import render
from tests.minutes.conftest import ORG, LocalCA, Token, in_thread, pdfsig, sample_record
from web.pki import REVOKED

SECRETARY = pades.Signatory("secretary", "Phạm Thu Hà", "Chánh Văn phòng")
CHAIR = pades.Signatory("chair", "Nguyễn Văn Ánh", "Chủ tịch")


def prepared_pdf(with_seal: bool = False) -> bytes:
    record, segments = sample_record()
    rendered = render(draft(record, segments))
    return pades.add_fields(rendered.pdf, rendered.boxes, with_seal)


def asn1(cert) -> asn1_x509.Certificate:  # type: ignore[no-untyped-def]
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


async def sign_with_config(pdf: bytes, test_ca: LocalCA, user: str, who: pades.Signatory, trust: pades.Trust) -> bytes:
    async def work() -> bytes:
        with keys.open_signer(test_ca.config.keys[user], who.name) as signer:
            return await pades.sign_local(pdf, who, signer, trust)
    return await in_thread(work)


async def verified(pdf: bytes, test_ca: LocalCA) -> verify.Report:
    return await asyncio.get_running_loop().run_in_executor(None, verify.verify_pdf, pdf, test_ca.config.trust_roots)


async def assert_both_valid(pdf: bytes, test_ca: LocalCA, tmp_path: Path) -> verify.Report:
    report = await verified(pdf, test_ca)
    assert [s.field for s in report.signatures] == ["ThuKy", "ChuToa"]
    assert report.ok and all(s.ok for s in report.signatures), verify.describe(report)
    assert [s.signer for s in report.signatures] == ["Phạm Thu Hà", "Nguyễn Văn Ánh"]
    found = [s for s in pdfsig(pdf, tmp_path) if "Signature Validation" in s]
    assert [s["Signature Field Name"] for s in found] == ["ThuKy", "ChuToa"]
    assert all(s["Signature Validation"] == "Signature is Valid." for s in found), found
    # pdfsig counts a DSS (B-LT) after the last signature as "not total"; our verifier allows it.
    assert found[-1]["coverage"] == ("partial" if b"/DSS" in pdf else "total")
    return report


async def test_pkcs12_secretary_then_chair_both_valid(test_ca: LocalCA, pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust = pades.Trust(test_ca.config.trust_roots)
    pdf = await sign_with_config(prepared_pdf(), test_ca, "thuky", SECRETARY, trust)
    pdf = await sign_with_config(pdf, test_ca, "chutoa", CHAIR, trust)
    report = await assert_both_valid(pdf, test_ca, tmp_path)
    assert report.signatures[0].position == "Chánh Văn phòng"
    assert report.signatures[1].reason == "Chủ tọa: Chủ tịch"
    assert report.signatures[0].signing_time.endswith("+07:00")


async def test_b_lt_with_the_local_tsa_validates_offline(test_ca: LocalCA, pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust = pades.Trust(test_ca.config.trust_roots, tsa_url=f"{test_ca.base_url}/tsa")
    pdf = await sign_with_config(prepared_pdf(), test_ca, "thuky", SECRETARY, trust)
    pdf = await sign_with_config(pdf, test_ca, "chutoa", CHAIR, trust)
    await pki.shutdown()  # nothing to fetch from now on; verify_pdf never fetches anyway
    report = await assert_both_valid(pdf, test_ca, tmp_path)
    for s in report.signatures:
        assert s.timestamp and s.timestamp_valid and s.revocation_embedded, verify.describe(report)
    assert b"/DSS" in pdf


async def test_a_flipped_byte_or_an_appended_update_is_detected(test_ca: LocalCA, pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust = pades.Trust(test_ca.config.trust_roots)
    pdf = await sign_with_config(prepared_pdf(), test_ca, "thuky", SECRETARY, trust)
    pdf = await sign_with_config(pdf, test_ca, "chutoa", CHAIR, trust)
    flipped = bytearray(pdf)
    flipped[pdf.index(b"stream", len(pdf) // 5) + 100] ^= 0x01  # inside a page's content, signed by both
    report = await verified(bytes(flipped), test_ca)
    assert not report.ok and not any(s.ok for s in report.signatures)
    assert any(s.get("Signature Validation") != "Signature is Valid." for s in pdfsig(bytes(flipped), tmp_path))

    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    info = writer.root
    info[NameObject("/Lang")] = TextStringObject("en-GB")  # any change after the last signature
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    report = await verified(out.getvalue(), test_ca)
    assert report.added_after_last and not report.ok
    assert "Có nội dung được thêm vào sau chữ ký cuối cùng." in verify.describe(report)
    assert pdfsig(out.getvalue(), tmp_path)[-1]["coverage"] == "partial"

    junk = await verified(pdf + b"\n42 0 obj\n(added)\nendobj\n", test_ca)
    assert junk.added_after_last and not junk.ok


def key_file(tmp_path: Path, issued: testca.Issued, ca: testca.Issued, name: str) -> keys.Pkcs12Key:
    path = tmp_path / f"{name}.p12"
    path.write_bytes(testca.pkcs12_bytes(issued, ca, b"pw", name))
    (tmp_path / f"{name}.pass").write_text("pw")
    return keys.Pkcs12Key(path, tmp_path / f"{name}.pass")


@pytest.mark.parametrize("problem, expected", [
    ("expired", "đã hết hạn"),
    ("usage", "không được phép dùng để ký số"),
    ("untrusted", "không chứng thực được đến chứng thư gốc tin cậy"),
    ("revoked", "đã bị thu hồi"),
])
async def test_a_bad_certificate_is_refused_before_signing(problem: str, expected: str, test_ca: LocalCA, pki,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    ca = test_ca.root if problem != "untrusted" else testca.new_root("Cơ quan lạ")
    issued = testca.issue(
        ca, "Phạm Thu Hà", crl_url=test_ca.crl_url, organisation=ORG,
        not_before=now - timedelta(days=400) if problem == "expired" else None,
        not_after=now - timedelta(days=1) if problem == "expired" else None,
        purpose="encryption" if problem == "usage" else "signing",
    )
    if problem == "revoked":
        pki[REVOKED].append(issued.certificate)
    source = key_file(tmp_path, issued, ca, "bad")
    pdf = prepared_pdf()

    async def work() -> bytes:
        with keys.open_signer(source, "Phạm Thu Hà") as signer:
            return await pades.sign_local(pdf, SECRETARY, signer, pades.Trust(test_ca.config.trust_roots))

    with pytest.raises(MinutesError) as refused:
        await in_thread(work)
    assert expected in str(refused.value) and "Phạm Thu Hà" in str(refused.value)
    assert refused.value.text("en") != str(refused.value)


async def test_pkcs11_token_signs_as_chair(test_ca: LocalCA, pki, softhsm_token: Token, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust = pades.Trust(test_ca.config.trust_roots)
    pdf = await sign_with_config(prepared_pdf(), test_ca, "thuky", SECRETARY, trust)
    token = keys.Pkcs11Key(softhsm_token.module, softhsm_token.label, softhsm_token.label, softhsm_token.label,
                           softhsm_token.pin_file)

    async def work() -> bytes:
        with keys.open_signer(token, CHAIR.name) as signer:
            return await pades.sign_local(pdf, CHAIR, signer, trust)

    await assert_both_valid(await in_thread(work), test_ca, tmp_path)


class RemoteHashSigningServiceTestDouble:
    """TEST DOUBLE of a remote hash-signing service (VNPT SmartCA / Viettel MySign style) behind
    meetings.minutes.remote.HashSigningService: it holds a key and signs a SHA-256 it is given,
    as the real one does once the signer confirms on a phone. The real services cannot run here."""

    def __init__(self, issued: testca.Issued, root: testca.Issued) -> None:
        self._key = issued.key
        self.chain = [asn1(issued.certificate), asn1(root.certificate)]
        self.requests: list[tuple[str, bytes]] = []

    async def certificate_chain(self, credential: str) -> list[asn1_x509.Certificate]:
        return self.chain

    async def sign_hash(self, credential: str, digest: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        self.requests.append((credential, digest))
        return self._key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))


async def test_remote_hash_signing_and_a_token_cms_are_embedded(test_ca: LocalCA, pki, softhsm_token: Token,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path) -> None:
    trust = pades.Trust(test_ca.config.trust_roots, tsa_url=f"{test_ca.base_url}/tsa")
    root = test_ca.root
    service = RemoteHashSigningServiceTestDouble(testca.issue(root, "Phạm Thu Hà", crl_url=test_ca.crl_url,
                                                             organisation=ORG, title="Chánh Văn phòng"), root)
    chain = [asn1(root.certificate)]
    pdf = await in_thread(lambda: remote.sign_with_service(prepared_pdf(), SECRETARY, service, "thuky@smartca", trust))
    assert [credential for credential, _ in service.requests] == ["thuky@smartca"]

    # The chair's token signs on "the chair's machine": the prepared signed attributes -> a CMS.
    token = keys.Pkcs11Key(softhsm_token.module, softhsm_token.label, softhsm_token.label, softhsm_token.label,
                           softhsm_token.pin_file)

    async def on_the_signers_machine(prepared: pades.Prepared) -> bytes:
        from asn1crypto import cms
        from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

        with keys.open_signer(token, CHAIR.name) as signer:
            content = await signer.async_sign_prescribed_attributes(
                "sha256", signed_attrs=cms.CMSAttributes.load(prepared.signed_attrs),
                timestamper=RequestsHTTPTimeStamper(trust.tsa_url),
            )
        return content.dump()

    with keys.open_signer(token, CHAIR.name) as signer:
        token_cert = signer.signing_cert
    prepared = await in_thread(lambda: pades.prepare_external(pdf, CHAIR, token_cert, chain, trust))
    cms_der = await in_thread(lambda: on_the_signers_machine(prepared))
    with pytest.raises(MinutesError) as refused:  # a CMS for some other document is refused
        other = await in_thread(lambda: pades.prepare_external(pdf, CHAIR, token_cert, chain, trust))
        await in_thread(lambda: pades.finish_with_cms(other, cms_der, trust))
    assert refused.value.code == "cms_mismatch"
    signed = await in_thread(lambda: pades.finish_with_cms(prepared, cms_der, trust))
    report = await assert_both_valid(signed, test_ca, tmp_path)
    assert all(s.timestamp_valid and s.revocation_embedded for s in report.signatures)


async def test_the_agency_seal_signs_third_over_the_chairs_space(test_ca: LocalCA, pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trust = pades.Trust(test_ca.config.trust_roots)
    pdf = await sign_with_config(prepared_pdf(with_seal=True), test_ca, "thuky", SECRETARY, trust)
    pdf = await sign_with_config(pdf, test_ca, "chutoa", CHAIR, trust)
    seal = pades.Signatory("seal", ORG, "Văn thư")
    pdf = await sign_with_config(pdf, test_ca, "vanthu", seal, trust)
    report = await verified(pdf, test_ca)
    assert [s.field for s in report.signatures] == ["ThuKy", "ChuToa", "DauCoQuan"] and report.ok
    found = [s for s in pdfsig(pdf, tmp_path) if "Signature Validation" in s]
    assert [s["Signature Validation"] for s in found] == ["Signature is Valid."] * 3
    (tmp_path / "sealed.pdf").write_bytes(pdf)
