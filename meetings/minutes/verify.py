"""Verify a signed PDF offline: each signer, position, time, timestamp, integrity, trust, and
whether anything but validation data was added after the last signature.

Revocation data comes from the document's DSS (PAdES B-LT), so nothing is fetched: the check
gives the same answer on an air-gapped machine. CPU work: call it in an executor.
"""
from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, Sequence

from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko_certvalidator import ValidationContext

from meetings.minutes.drafting import local
from meetings.minutes.messages import MinutesError

# After a signature, only later signatures (form filling) and DSS/timestamps may follow.
ALLOWED_AFTER = {ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING}
ALLOWED_AFTER_LAST = {ModificationLevel.NONE, ModificationLevel.LTA_UPDATES}


@dataclass(frozen=True)
class SignatureReport:
    field: str
    signer: str
    position: str
    reason: str
    signing_time: str | None  # ISO 8601, +07:00
    timestamp: str | None
    timestamp_valid: bool
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the signature over them checks out
    trusted: bool  # the chain reaches a trust root, with revocation data
    revocation_embedded: bool
    changes_after: str  # none / lta / form / other
    ok: bool


@dataclass(frozen=True)
class Report:
    signatures: list[SignatureReport]
    added_after_last: bool  # something other than validation data follows the last signature
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(at: datetime | None) -> str | None:
    return local(at).isoformat(timespec="seconds") if at else None


def _title(cert: x509.Certificate) -> str:
    return str(cert.subject.native.get("title", ""))


def _changes(level: ModificationLevel | None) -> str:
    return {
        None: "unknown", ModificationLevel.NONE: "none", ModificationLevel.LTA_UPDATES: "lta",
        ModificationLevel.FORM_FILLING: "form",
    }.get(level, "other")


def _added_after_last(pdf: bytes, byte_range: Sequence[int], changes_after: str) -> bool:
    """True when bytes that are not validation data follow the last signature.

    pyHanko judges later revisions; bytes with no revision of their own (appended after the
    last %%EOF) escape it, so they are looked for here.
    """
    if changes_after not in ("none", "lta"):
        return True
    if changes_after == "none":
        return pdf[byte_range[2] + byte_range[3]:].strip() != b""
    return not pdf.rstrip().endswith(b"%%EOF")


def _context(reader: PdfFileReader, roots: Sequence[x509.Certificate]) -> tuple[ValidationContext, bool]:
    settings = {"trust_roots": list(roots), "allow_fetching": False, "revocation_mode": "hard-fail"}
    try:
        return DocumentSecurityStore.read_dss(reader).as_validation_context(settings), True
    except NoDSSFoundError:  # B-B/B-T: trust is judged without revocation data
        return ValidationContext(**{**settings, "revocation_mode": "soft-fail"}), False


async def _verify(pdf: bytes, roots: Sequence[x509.Certificate]) -> Report:
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, IndexError) as error:
        raise MinutesError("not_pdf", reason=str(error) or type(error).__name__) from None
    if not embedded:
        raise MinutesError("no_signatures")
    context, has_dss = _context(reader, roots)
    reports = []
    try:
        for n, sig in enumerate(embedded):
            last = n == len(embedded) - 1
            try:
                status = await async_validate_pdf_signature(sig, context)
            except Exception as error:  # a mangled signature dictionary or CMS: report, don't crash
                reports.append(SignatureReport(
                    field=sig.field_name, signer="", position="", reason=f"{type(error).__name__}: {error}",
                    signing_time=None, timestamp=None, timestamp_valid=False, intact=False, valid=False,
                    trusted=False, revocation_embedded=has_dss, changes_after="unknown", ok=False))
                continue
            level = status.modification_level
            allowed = ALLOWED_AFTER_LAST if last else ALLOWED_AFTER
            whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
                status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and level in allowed
            )
            ts = status.timestamp_validity
            reason = sig.sig_object.get("/Reason")
            reports.append(SignatureReport(
                field=sig.field_name, signer=str(status.signing_cert.subject.native.get("common_name", "")),
                position=_title(status.signing_cert), reason=str(reason) if reason else "",
                signing_time=_iso(status.signer_reported_dt), timestamp=_iso(ts.timestamp) if ts else None,
                timestamp_valid=bool(ts and ts.valid and ts.trusted), intact=status.intact, valid=status.valid,
                trusted=status.trusted, revocation_embedded=has_dss, changes_after=_changes(level),
                ok=bool(status.intact and status.valid and status.trusted and whole and status.docmdp_ok is not False),
            ))
    finally:
        await context.aclose()
    added = _added_after_last(pdf, embedded[-1].byte_range, reports[-1].changes_after)
    return Report(reports, added, all(r.ok for r in reports) and not added)


def verify_pdf(pdf: bytes, roots: Sequence[x509.Certificate]) -> Report:
    """Blocking: run it in an executor from async code."""
    return asyncio.run(_verify(pdf, roots))


def describe(report: Report, lang: str = "vi") -> list[str]:
    """The report as lines for a person (CLI output), Vietnamese unless lang == 'en'."""
    vi = lang != "en"
    yes, no = ("có", "không") if vi else ("yes", "no")
    lines = []
    for n, s in enumerate(report.signatures, start=1):
        state = ("HỢP LỆ" if vi else "VALID") if s.ok else ("KHÔNG HỢP LỆ" if vi else "INVALID")
        lines.append(f"{'Chữ ký' if vi else 'Signature'} {n} ({s.field}): {state}")
        lines.append(f"  {'Người ký' if vi else 'Signer'}: {s.signer}" + (f" — {s.position}" if s.position else ""))
        if s.reason:
            lines.append(f"  {'Vai trò' if vi else 'Role'}: {s.reason}")
        lines.append(f"  {'Thời gian ký' if vi else 'Signing time'}: {s.signing_time or '—'}")
        stamp = f"{s.timestamp} ({yes if s.timestamp_valid else no})" if s.timestamp else no
        lines.append(f"  {'Dấu thời gian' if vi else 'Timestamp'}: {stamp}")
        lines.append(f"  {'Toàn vẹn' if vi else 'Intact'}: {yes if s.intact and s.valid else no}; "
                     f"{'tin cậy' if vi else 'trusted'}: {yes if s.trusted else no}; "
                     f"{'thông tin thu hồi nhúng kèm' if vi else 'revocation data embedded'}: "
                     f"{yes if s.revocation_embedded else no}")
    if report.added_after_last:
        lines.append("Có nội dung được thêm vào sau chữ ký cuối cùng." if vi
                     else "Something was added after the last signature.")
    lines.append(("Kết luận: tài liệu HỢP LỆ." if vi else "Result: the document is VALID.") if report.ok
                 else ("Kết luận: tài liệu KHÔNG HỢP LỆ." if vi else "Result: the document is NOT VALID."))
    return lines
