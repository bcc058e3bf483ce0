"""PAdES signatures on the minutes with pyHanko: each one an incremental update in its own field.

Three ways to sign (docs/minutes.md):
- `sign_local`: the server holds the key (a PKCS#12 file, or a PKCS#11 token on the server);
- `prepare_external` + `finish_with_cms`: the signer's own machine signs the prepared signed
  attributes and returns a CMS (`hoinghi sign`), the key never leaves the token;
- `prepare_external` + `finish_with_signature`: a remote hash-signing service returns a raw
  signature value over the hash of those attributes.
With a timestamp service configured the signature carries an RFC 3161 token and the document a
DSS with the certificates and CRLs of signing time: PAdES B-LT, which validates offline.
The certificate is checked (meetings.minutes.certcheck) before anything is signed.
These coroutines do CPU work and blocking I/O: run them with asyncio.run in an executor thread.
"""
from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Sequence

from asn1crypto import cms, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from meetings.minutes.certcheck import check_before_signing, validation_context
from meetings.minutes.drafting import local
from meetings.minutes.messages import MinutesError
from meetings.minutes.render import Box

FIELD_NAMES = {"secretary": "ThuKy", "chair": "ChuToa", "seal": "DauCoQuan"}
ROLE_TITLES = {"secretary": "Thư ký", "chair": "Chủ tọa", "seal": "Văn thư (dấu cơ quan)"}
# Liberation Serif has 2048 units per em, which pyHanko's stamp layout spreads about 2x;
# Noto Serif (1000 units) lays out right. Both are SIL OFL, shipped in fonts/. The stamp font is
# Noto Serif cut to Latin + Vietnamese (85 KB, fonts/LICENSE-NotoSerif.txt): pyHanko subsets it
# again at every signature, which took 1.3 s with the whole font.
STAMP_FONT = Path(__file__).with_name("fonts") / "NotoSerif-Vietnamese.ttf"
STAMP_PT = 10
EXTERNAL_RESERVE = 32 * 1024  # bytes for a CMS with a chain and a timestamp token


@dataclass(frozen=True)
class Signatory:
    role: str  # secretary / chair / seal
    name: str
    position: str
    location: str = ""


@dataclass(frozen=True)
class Trust:
    roots: Sequence[x509.Certificate]
    tsa_url: str | None = None


def add_fields(pdf: bytes, boxes: dict[str, Box], with_seal: bool) -> bytes:
    """Empty signature fields where the PDF left room: THƯ KÝ, CHỦ TỌA and, if asked, the seal.

    The seal overlaps the left of the chair's space, as an electronic seal is placed.
    """
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    places = {"secretary": boxes["secretary"], "chair": boxes["chair"]}
    if with_seal:
        chair = boxes["chair"]
        width = chair.x2 - chair.x1
        places["chair"] = Box(chair.page, chair.x1 + width * 0.4, chair.y1, chair.x2, chair.y2)
        places["seal"] = Box(chair.page, chair.x1, chair.y1, chair.x1 + width * 0.45, chair.y2)
    for role, box in places.items():
        fields.append_signature_field(
            writer, SigFieldSpec(sig_field_name=FIELD_NAMES[role], on_page=box.page, box=(box.x1, box.y1, box.x2, box.y2))
        )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _stamp(who: Signatory, at: datetime) -> TextStampStyle:
    """The visible text of a signature; the seal's is the agency's name, wrapped to its narrow box."""
    when = local(at).isoformat(timespec="seconds")
    if who.role == "seal":
        lines = ["DẤU CƠ QUAN", *textwrap.wrap(who.name.upper(), 24), when]
    else:
        lines = [f"Ký bởi: {who.name}"]
        if who.position:
            lines.append(f"Chức vụ: {who.position}")
        lines += [f"Vai trò: {ROLE_TITLES[who.role]}", f"Thời gian ký: {when}"]
    return TextStampStyle(
        stamp_text="\n".join(lines),
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(str(STAMP_FONT), font_size=STAMP_PT), font_size=STAMP_PT),
        border_width=1,
    )


def _metadata(who: Signatory, usage: set[str], context: ValidationContext | None) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=FIELD_NAMES[who.role], md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES,
        name=who.name, reason=f"{ROLE_TITLES[who.role]}: {who.position}" if who.position else ROLE_TITLES[who.role],
        location=who.location or None, embed_validation_info=context is not None, validation_context=context,
        signer_key_usage=usage,
    )


def _usage(cert: x509.Certificate) -> set[str]:
    usage = cert.key_usage_value
    return {"digital_signature", "non_repudiation"} & set(usage.native if usage else ())


def _timestamper(trust: Trust) -> RequestsHTTPTimeStamper | None:
    return RequestsHTTPTimeStamper(trust.tsa_url, timeout=10) if trust.tsa_url else None


def _chain(signer: signers.Signer) -> list[x509.Certificate]:
    return list(signer.cert_registry) if signer.cert_registry is not None else []


async def sign_local(pdf: bytes, who: Signatory, signer: signers.Signer, trust: Trust) -> bytes:
    """Check the certificate, then sign in the role's field (B-LT with a timestamp service)."""
    cert = signer.signing_cert
    await check_before_signing(cert, _chain(signer), trust.roots)
    context = validation_context(trust.roots) if trust.tsa_url else None
    pdf_signer = signers.PdfSigner(
        _metadata(who, _usage(cert), context), signer=signer, timestamper=_timestamper(trust),
        stamp_style=_stamp(who, datetime.now(timezone.utc)),
    )
    try:
        out = await pdf_signer.async_sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
    finally:
        if context is not None:
            await context.aclose()
    return out.getvalue()


@dataclass(frozen=True)
class Prepared:
    """A document waiting for a signature made elsewhere (pyHanko's interrupted signing)."""

    who: Signatory
    pdf: bytes  # with the placeholder for the CMS
    document_digest: bytes
    reserved_start: int
    reserved_end: int
    signed_attrs: bytes  # DER of the SET OF signed attributes: what the signer's key signs
    certificate: bytes  # DER
    chain: tuple[bytes, ...]

    @property
    def hash_to_sign(self) -> bytes:
        """SHA-256 of the signed attributes: what a hash-signing service signs."""
        return hashlib.sha256(self.signed_attrs).digest()


def _signed_attrs_der(attrs: cms.CMSAttributes) -> bytes:
    return attrs.dump(force=True)


async def prepare_external(pdf: bytes, who: Signatory, certificate: x509.Certificate,
                           chain: Sequence[x509.Certificate], trust: Trust) -> Prepared:
    await check_before_signing(certificate, chain, trust.roots)
    key_bytes = certificate.public_key.bit_size // 8
    placeholder = signers.ExternalSigner(
        signing_cert=certificate, signature_value=bytes(key_bytes),
        cert_registry=SimpleCertificateStore.from_certs(list(chain)),
    )
    pdf_signer = signers.PdfSigner(
        _metadata(who, _usage(certificate), None), signer=placeholder,
        stamp_style=_stamp(who, datetime.now(timezone.utc)),
    )
    prep, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
        IncrementalPdfFileWriter(BytesIO(pdf)), bytes_reserved=EXTERNAL_RESERVE
    )
    attrs = await placeholder.signed_attrs(prep.document_digest, "sha256", use_pades=True)
    return Prepared(
        who=who, pdf=output.getvalue(), document_digest=prep.document_digest,
        reserved_start=prep.reserved_region_start, reserved_end=prep.reserved_region_end,
        signed_attrs=_signed_attrs_der(attrs), certificate=certificate.dump(),
        chain=tuple(c.dump() for c in chain),
    )


def _check_cms(prepared: Prepared, content: cms.ContentInfo) -> None:
    try:
        signed = content["content"]
        info = signed["signer_infos"][0]
        attrs = info["signed_attrs"].contents  # [0] IMPLICIT here, SET OF when signed: compare the contents
        certs = [c.chosen.dump() for c in signed["certificates"]]
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise MinutesError("cms_mismatch", reason=f"CMS: {error}") from None
    if attrs != cms.CMSAttributes.load(prepared.signed_attrs).contents:
        raise MinutesError("cms_mismatch", reason="signed attributes differ")
    if prepared.certificate not in certs:
        raise MinutesError("cms_mismatch", reason="another certificate signed")


async def finish_with_cms(prepared: Prepared, cms_der: bytes, trust: Trust) -> bytes:
    """Embed a CMS made on the signer's machine; B-LT data added when a TSA is configured."""
    try:
        content = cms.ContentInfo.load(cms_der)
        content.native  # parse fully: a truncated upload fails here, not inside pyHanko
    except ValueError as error:
        raise MinutesError("cms_mismatch", reason=f"CMS: {error}") from None
    _check_cms(prepared, content)
    output = BytesIO(prepared.pdf)
    await PdfTBSDocument.async_finish_signing(
        output, PreparedByteRangeDigest(prepared.document_digest, prepared.reserved_start, prepared.reserved_end),
        content,
    )
    signed = output.getvalue()
    if trust.tsa_url is None:
        return signed
    return await add_revocation_data(signed, FIELD_NAMES[prepared.who.role], trust)


async def finish_with_signature(prepared: Prepared, signature_value: bytes, trust: Trust) -> bytes:
    """Build the CMS around a raw signature from a hash-signing service, then embed it."""
    cert = x509.Certificate.load(prepared.certificate)
    signer = signers.ExternalSigner(
        signing_cert=cert, signature_value=signature_value,
        cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load(c) for c in prepared.chain]),
    )
    attrs = cms.CMSAttributes.load(prepared.signed_attrs)
    content = await signer.async_sign_prescribed_attributes("sha256", signed_attrs=attrs, timestamper=_timestamper(trust))
    return await finish_with_cms(prepared, content.dump(), trust)


async def add_revocation_data(pdf: bytes, field_name: str, trust: Trust) -> bytes:
    reader = PdfFileReader(BytesIO(pdf))
    embedded = next(s for s in reader.embedded_signatures if s.field_name == field_name)
    context = validation_context(trust.roots)
    try:
        out = await async_add_validation_info(embedded, context, output=BytesIO())
    finally:
        await context.aclose()
    return out.getvalue()
