"""The adapter a remote hash-signing service plugs into (VNPT SmartCA, Viettel MySign: CSC-style
credentials/list, then authorize + signHash once the signer confirms on a phone).

An adapter gives the signer's certificate chain and signs a SHA-256 with the signer's key, which
never leaves the service; `sign_with_service` prepares the document, asks for the signature and
embeds it. No real service can run in tests: they use a test double of this interface.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from asn1crypto import x509

from meetings.minutes import pades


class HashSigningService(Protocol):
    async def certificate_chain(self, credential: str) -> Sequence[x509.Certificate]:
        """The signer's certificate first, then its issuers."""

    async def sign_hash(self, credential: str, digest: bytes) -> bytes:
        """A raw RSA PKCS#1 v1.5 signature over the SHA-256 `digest` (waits for the signer's approval)."""


async def sign_with_service(pdf: bytes, who: pades.Signatory, service: HashSigningService, credential: str,
                            trust: pades.Trust) -> bytes:
    certificate, *chain = await service.certificate_chain(credential)
    prepared = await pades.prepare_external(pdf, who, certificate, chain, trust)
    signature = await service.sign_hash(credential, prepared.hash_to_sign)
    return await pades.finish_with_signature(prepared, signature, trust)
