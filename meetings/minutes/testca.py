"""A local test CA for demos and development (`hoinghi ca init`), never for production.

Production minutes are signed with the agency's own certificates (Ban Cơ yếu Chính phủ, VNPT-CA,
Viettel-CA). This CA issues: a root, a TSA certificate (extended key usage timeStamping), a CRL,
and one PKCS#12 per account with key usage digitalSignature + nonRepudiation. Every issued
certificate names the CRL at `<base_url>/crl/root.crl`, which `hoinghi ca serve` publishes
together with an RFC 3161 timestamp service at `<base_url>/tsa`.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_BITS = 2048


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _usage(digital_signature: bool = False, non_repudiation: bool = False, cert_sign: bool = False,
           key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=non_repudiation, key_encipherment=key_encipherment,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )


def new_root(organisation: str, now: datetime | None = None, years: int = 10) -> Issued:
    now = now or datetime.now(timezone.utc)
    key = new_key()
    name = _name(f"{organisation} — CA thử nghiệm", organisation)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(
    ca: Issued, common_name: str, *, crl_url: str, organisation: str = "", title: str = "",
    not_before: datetime | None = None, not_after: datetime | None = None, purpose: str = "signing",
) -> Issued:
    """A certificate from `ca`. purpose: 'signing' (documents), 'tsa', or 'encryption' (a wrong usage)."""
    now = datetime.now(timezone.utc)
    key = new_key()
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    if title:
        attributes.append(x509.NameAttribute(NameOID.TITLE, title))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = (
        x509.CertificateBuilder().subject_name(x509.Name(attributes)).issuer_name(ca.certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(hours=1))
        .not_valid_after(not_after or now + timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None, crl_issuer=None,
        )]), critical=False)
    )
    if purpose == "signing":
        builder = builder.add_extension(_usage(digital_signature=True, non_repudiation=True), critical=True)
    elif purpose == "tsa":
        builder = builder.add_extension(_usage(digital_signature=True), critical=True).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    elif purpose == "encryption":
        builder = builder.add_extension(_usage(key_encipherment=True), critical=True)
    else:
        raise ValueError(f"purpose: signing, tsa or encryption, not {purpose!r}")
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def crl(ca: Issued, revoked: list[x509.Certificate] = (), now: datetime | None = None) -> x509.CertificateRevocationList:  # type: ignore[assignment]
    now = now or datetime.now(timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=7))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(now - timedelta(minutes=1)).build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def pkcs12_bytes(issued: Issued, ca: Issued, passphrase: bytes, friendly_name: str) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), issued.key, issued.certificate, [ca.certificate],
        serialization.BestAvailableEncryption(passphrase),
    )


def pem_certificate(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def load(directory: Path, name: str) -> Issued:
    cert = x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / f"{name}.key.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Issued(cert, key)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


@dataclass(frozen=True)
class AccountKey:
    username: str
    display_name: str
    title: str


def init_ca(directory: Path, organisation: str, accounts: list[AccountKey], base_url: str, seal: bool = False) -> str:
    """Write the CA, the TSA, the CRL, one PKCS#12 per account (and the agency's seal, if asked)
    and signing.toml; returns its text."""
    ca_dir = directory / "ca"
    keys_dir = directory / "accounts"
    ca_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.mkdir(parents=True, exist_ok=True)
    crl_url = f"{base_url.rstrip('/')}/crl/root.crl"
    root = new_root(organisation)
    tsa = issue(root, f"{organisation} — TSA thử nghiệm", crl_url=crl_url, organisation=organisation, purpose="tsa")
    for name, issued in (("root", root), ("tsa", tsa)):
        (ca_dir / f"{name}.pem").write_bytes(pem_certificate(issued.certificate))
        _write_private(ca_dir / f"{name}.key.pem", pem_key(issued.key))
    (ca_dir / "root.crl").write_bytes(crl(root).public_bytes(serialization.Encoding.DER))
    lines = [
        "# hoinghi signing configuration written by `hoinghi ca init` (TEST CA: not for production).",
        'trust_roots = ["ca/root.pem"]',
        f'tsa_url = "{base_url.rstrip("/")}/tsa"',
        "",
    ]
    holders = [(f'[keys."{a.username}"]', a.username, a.display_name, a.title) for a in accounts]
    if seal:
        holders.append(("[seal]", "seal", organisation, "Văn thư"))
    for table, name, common_name, title in holders:
        passphrase = secrets.token_urlsafe(12)
        issued = issue(root, common_name, crl_url=crl_url, organisation=organisation, title=title)
        _write_private(keys_dir / f"{name}.p12", pkcs12_bytes(issued, root, passphrase.encode(), common_name))
        _write_private(keys_dir / f"{name}.pass", passphrase.encode())
        lines += [table, f'pkcs12 = "accounts/{name}.p12"', f'passphrase_file = "accounts/{name}.pass"', ""]
    text = "\n".join(lines)
    (directory / "signing.toml").write_text(text, encoding="utf-8")
    return text
