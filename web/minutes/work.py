"""The minutes' heavy work for the web layer, off the event loop: rendering, signing, verifying.

reportlab and pyHanko are CPU-bound (and PKCS#11 calls block), so each job runs in a worker
thread with its own event loop (pyHanko's coroutines). The signing configuration is
DATA_DIR/signing/signing.toml (meetings.minutes.keys; `hoinghi ca init` writes a test one).
Signatures prepared for the signer's own machine wait here, in memory, for PENDING_TTL_S: a
server restart only means running `hoinghi sign` again.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from asn1crypto import x509

from meetings.minutes import keys, pades, verify
from meetings.minutes.document import MinutesDocument
from meetings.minutes.messages import MinutesError
from meetings.minutes.render import render
from meetings.minutes.service import Turn
from meetings.minutes.store import PdfStore

T = TypeVar("T")
PENDING_TTL_S = 15 * 60
MAX_PENDING = 100


@dataclass(frozen=True)
class Pending:
    meeting_id: int
    account_id: int | None
    turn: Turn
    prepared: pades.Prepared
    trust: pades.Trust
    expires: float


class MinutesWork:
    def __init__(self, data_dir: Path, workers: int = 2) -> None:
        self.store = PdfStore(data_dir / "minutes")
        self.config_path = data_dir / "signing" / "signing.toml"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minutes")
        self._pending: dict[str, Pending] = {}

    async def _run(self, job: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, job)

    async def _run_async(self, make: Callable[[], Awaitable[T]]) -> T:
        return await self._run(lambda: asyncio.run(make()))  # type: ignore[arg-type]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def signing_config(self) -> keys.SigningConfig | None:
        """None when no signing.toml exists: then nobody can sign on this server yet."""
        if not self.config_path.exists():
            return None
        return keys.load_signing_config(self.config_path)

    def trust(self) -> pades.Trust:
        config = self.signing_config()
        if config is None:
            raise MinutesError("signing_config", path=self.config_path, reason="missing (hoinghi ca init makes a test one)")
        return pades.Trust(config.trust_roots, config.tsa_url)

    async def render(self, doc: MinutesDocument, with_seal: bool) -> tuple[str, int]:
        """The unsigned PDF with its signature fields, stored; returns (sha256, pages)."""
        def job() -> tuple[bytes, int]:
            rendered = render(doc)
            return pades.add_fields(rendered.pdf, rendered.boxes, with_seal), rendered.pages

        pdf, pages = await self._run(job)
        return self.store.put(pdf), pages

    async def preview(self, doc: MinutesDocument) -> bytes:
        return (await self._run(lambda: render(doc))).pdf

    async def sign_on_server(self, turn: Turn, source: keys.KeySource, who: pades.Signatory) -> str:
        """Sign with a key the server holds (PKCS#12, or a PKCS#11 token on the server)."""
        trust = self.trust()
        pdf = self.store.get(turn.pdf_sha256)

        async def job() -> bytes:
            with keys.open_signer(source, who.name) as signer:
                return await pades.sign_local(pdf, who, signer, trust)

        return self.store.put(await self._run_async(job))

    async def prepare(self, meeting_id: int, account_id: int | None, turn: Turn, who: pades.Signatory,
                      certificate: x509.Certificate, chain: list[x509.Certificate]) -> tuple[str, Pending]:
        self._expire()
        if len(self._pending) >= MAX_PENDING:
            raise MinutesError("cms_mismatch", reason="too many signatures waiting; try again in a few minutes")
        trust = self.trust()
        pdf = self.store.get(turn.pdf_sha256)
        prepared = await self._run_async(lambda: pades.prepare_external(pdf, who, certificate, chain, trust))
        token = secrets.token_urlsafe(24)
        pending = Pending(meeting_id, account_id, turn, prepared, trust, time.monotonic() + PENDING_TTL_S)
        self._pending[token] = pending
        return token, pending

    def take(self, token: str, meeting_id: int, account_id: int | None) -> Pending:
        """The prepared signature for this token, once; only its own signer may finish it."""
        self._expire()
        pending = self._pending.get(token)
        if pending is None or pending.meeting_id != meeting_id or pending.account_id != account_id:
            raise MinutesError("cms_mismatch", reason="unknown or expired signing token: prepare again")
        del self._pending[token]
        return pending

    async def finish(self, pending: Pending, cms_der: bytes) -> str:
        signed = await self._run_async(lambda: pades.finish_with_cms(pending.prepared, cms_der, pending.trust))
        return self.store.put(signed)

    async def verify(self, pdf: bytes) -> verify.Report:
        config = self.signing_config()
        roots = config.trust_roots if config else []
        return await self._run(lambda: verify.verify_pdf(pdf, roots))

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._pending.items() if p.expires < now]:
            del self._pending[token]
