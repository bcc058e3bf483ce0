"""The minutes' heavy work for the web layer, off the event loop: rendering, signing, verifying.

reportlab and pyHanko are CPU-bound and hold the GIL for long stretches, so each job runs in a
worker process (meetings/minutes/jobs.py; a thread still stalled the loop by 150 ms in
bench/minutes.py). The signing configuration is DATA_DIR/signing/signing.toml
(meetings.minutes.keys; `hoinghi ca init` writes a test one). Signatures prepared for the
signer's own machine wait here, in memory, for PENDING_TTL_S: a server restart only means
running `hoinghi sign` again.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from asn1crypto import x509

from meetings.minutes import jobs, keys, pades, verify
from meetings.minutes.document import MinutesDocument
from meetings.minutes.messages import MinutesError
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
    tsa_url: str | None
    expires: float


class MinutesWork:
    def __init__(self, data_dir: Path, workers: int = 1) -> None:
        self.store = PdfStore(data_dir / "minutes")
        self.config_path = data_dir / "signing" / "signing.toml"
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[str, Pending] = {}

    async def run(self, job: Callable[..., T], *args: Any) -> T:
        if self._pool is None:  # spawn: the server's threads must not be forked
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=jobs.warm_up)
        return await asyncio.get_running_loop().run_in_executor(self._pool, job, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def signing_config(self) -> keys.SigningConfig | None:
        """None when no signing.toml exists: then nobody can sign on this server yet."""
        if not self.config_path.exists():
            return None
        return keys.load_signing_config(self.config_path)

    def _trust(self) -> tuple[list[bytes], str | None]:
        config = self.signing_config()
        if config is None:
            raise MinutesError("signing_config", path=self.config_path, reason="missing (hoinghi ca init makes a test one)")
        return [c.dump() for c in config.trust_roots], config.tsa_url

    async def render(self, doc: MinutesDocument, with_seal: bool) -> tuple[str, int]:
        """The unsigned PDF with its signature fields, stored; returns (sha256, pages)."""
        pdf, pages = await self.run(jobs.render_job, doc.to_json(), with_seal)
        return self.store.put(pdf), pages

    async def preview(self, doc: MinutesDocument) -> bytes:
        return await self.run(jobs.preview_job, doc.to_json())

    async def sign_on_server(self, turn: Turn, source: keys.KeySource, who: pades.Signatory) -> str:
        """Sign with a key the server holds (PKCS#12, or a PKCS#11 token on the server)."""
        roots, tsa = self._trust()
        signed = await self.run(jobs.sign_job, self.store.get(turn.pdf_sha256), source, who, roots, tsa)
        return self.store.put(signed)

    async def prepare(self, meeting_id: int, account_id: int | None, turn: Turn, who: pades.Signatory,
                      certificate: x509.Certificate, chain: list[x509.Certificate]) -> tuple[str, Pending]:
        self._expire()
        if len(self._pending) >= MAX_PENDING:
            raise MinutesError("cms_mismatch", reason="too many signatures waiting; try again in a few minutes")
        roots, tsa = self._trust()
        prepared = await self.run(jobs.prepare_job, self.store.get(turn.pdf_sha256), who, certificate.dump(),
                                  [c.dump() for c in chain], roots, tsa)
        token = secrets.token_urlsafe(24)
        pending = Pending(meeting_id, account_id, turn, prepared, tsa, time.monotonic() + PENDING_TTL_S)
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
        roots, _ = self._trust()
        signed = await self.run(jobs.finish_job, pending.prepared, cms_der, roots, pending.tsa_url)
        return self.store.put(signed)

    async def verify(self, pdf: bytes) -> verify.Report:
        config = self.signing_config()
        return await self.run(jobs.verify_job, pdf, [c.dump() for c in config.trust_roots] if config else [])

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._pending.items() if p.expires < now]:
            del self._pending[token]
