"""The test CA's services over HTTP (`hoinghi ca serve`, and the tests): an RFC 3161 timestamp
service at /tsa (certomancer's TimeStamper) and the CA's CRL at /crl/root.crl, made fresh at
each request so its next-update never lapses. For demos and development only."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web
from asn1crypto import keys as asn1_keys, tsp, x509 as asn1_x509
from certomancer.services import TimeStamper
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meetings.minutes import testca

REVOKED = web.AppKey("revoked", list)


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def create_pki_app(ca_dir: Path) -> web.Application:
    """`app[REVOKED]` is the list of certificates the CRL names (tests revoke by appending)."""
    root = testca.load(ca_dir, "root")
    tsa = testca.load(ca_dir, "tsa")
    stamper = TimeStamper(
        tsa_cert=_asn1_cert(tsa.certificate),
        tsa_key=asn1_keys.PrivateKeyInfo.load(tsa.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        certs_to_embed=[_asn1_cert(root.certificate)],
    )
    app = web.Application()
    app[REVOKED] = []

    async def timestamp(request: web.Request) -> web.Response:
        try:
            query = tsp.TimeStampReq.load(await request.read())
            query.native  # parse now: garbage gets a 400, not a 500 later
        except ValueError as error:
            raise web.HTTPBadRequest(text=f"not a TimeStampReq: {error}") from None
        response = stamper.request_tsa_response(query)
        return web.Response(body=response.dump(), content_type="application/timestamp-reply")

    async def revocation_list(request: web.Request) -> web.Response:
        current = testca.crl(root, app[REVOKED])
        return web.Response(body=current.public_bytes(serialization.Encoding.DER), content_type="application/pkix-crl")

    app.router.add_post("/tsa", timestamp)
    app.router.add_get("/crl/root.crl", revocation_list)
    return app
