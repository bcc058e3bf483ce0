"""The minutes' CPU-heavy steps as plain functions of picklable values, for a worker process.

reportlab and pyHanko hold the GIL for long stretches: in a thread of the server's process they
still stall its event loop (tens to hundreds of milliseconds, measured by bench/minutes.py), so
the server runs these in a separate process. Certificates travel as DER bytes.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Sequence

from asn1crypto import x509

from meetings.minutes import keys, pades, verify
from meetings.minutes.document import MinutesDocument
from meetings.minutes.drafting import draft
from meetings.minutes.record import MeetingRecord, Segment
from meetings.minutes.render import render


WORKER_NICENESS = 10


def _trust(roots: Sequence[bytes], tsa_url: str | None) -> pades.Trust:
    return pades.Trust([x509.Certificate.load(r) for r in roots], tsa_url)


def warm_up() -> bool:
    """The worker's start: below the server in CPU priority (the server's loop forwards media and
    must win a busy machine's cores), and the fonts loaded, so the first job is not the slow one."""
    from meetings.minutes.render import register_fonts

    os.nice(WORKER_NICENESS)
    register_fonts()
    return True


def draft_job(record: MeetingRecord, segments: Sequence[Segment]) -> dict[str, Any]:
    return draft(record, segments).to_json()


def render_job(doc: dict[str, Any], with_seal: bool) -> tuple[bytes, int]:
    """The PDF to sign: rendered, with its empty signature fields; and its page count."""
    rendered = render(MinutesDocument.from_json(doc))
    return pades.add_fields(rendered.pdf, rendered.boxes, with_seal), rendered.pages


def preview_job(doc: dict[str, Any]) -> bytes:
    return render(MinutesDocument.from_json(doc)).pdf


def sign_job(pdf: bytes, source: keys.KeySource, who: pades.Signatory, roots: Sequence[bytes],
             tsa_url: str | None) -> bytes:
    async def work() -> bytes:
        with keys.open_signer(source, who.name) as signer:
            return await pades.sign_local(pdf, who, signer, _trust(roots, tsa_url))

    return asyncio.run(work())


def prepare_job(pdf: bytes, who: pades.Signatory, certificate: bytes, chain: Sequence[bytes], roots: Sequence[bytes],
                tsa_url: str | None) -> pades.Prepared:
    return asyncio.run(pades.prepare_external(
        pdf, who, x509.Certificate.load(certificate), [x509.Certificate.load(c) for c in chain], _trust(roots, tsa_url)
    ))


def finish_job(prepared: pades.Prepared, cms_der: bytes, roots: Sequence[bytes], tsa_url: str | None) -> bytes:
    return asyncio.run(pades.finish_with_cms(prepared, cms_der, _trust(roots, tsa_url)))


def verify_job(pdf: bytes, roots: Sequence[bytes]) -> verify.Report:
    return verify.verify_pdf(pdf, [x509.Certificate.load(r) for r in roots])
