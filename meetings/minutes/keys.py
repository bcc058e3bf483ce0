"""Signing configuration (signing.toml) and the keys it names: PKCS#12 files and PKCS#11 tokens.

    trust_roots = ["ca/root.pem"]          # certificates a signer's chain must reach
    tsa_url = "http://127.0.0.1:8079/tsa"  # optional RFC 3161 service: then PAdES B-LT
    [keys."thuky"]                         # an account's username
    pkcs12 = "accounts/thuky.p12"
    passphrase_file = "accounts/thuky.pass"
    [keys."chutoa"]
    pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
    token_label = "chutoa"
    key_label = "chutoa"                   # also the certificate's label unless cert_label is set
    pin_file = "tokens/chutoa.pin"
    [seal]                                 # the organisation's seal (văn thư), same keys as above

Relative paths are relative to the file. An account without an entry signs from its own
machine (`hoinghi sign`) or through a remote signing service: its key never reaches the server.
"""
from __future__ import annotations

import contextlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from asn1crypto import pem, x509
from pyhanko.sign import signers

from meetings.minutes.messages import MinutesError

PKCS12_KEYS = {"pkcs12", "passphrase_file"}
PKCS11_KEYS = {"pkcs11_module", "token_label", "key_label", "cert_label", "pin_file"}


@dataclass(frozen=True)
class Pkcs12Key:
    path: Path
    passphrase_file: Path | None
    kind: str = "pkcs12"


@dataclass(frozen=True)
class Pkcs11Key:
    module: Path
    token_label: str
    key_label: str
    cert_label: str
    pin_file: Path | None
    kind: str = "pkcs11"


KeySource = Pkcs12Key | Pkcs11Key


@dataclass(frozen=True)
class SigningConfig:
    trust_roots: list[x509.Certificate]
    tsa_url: str | None = None
    keys: dict[str, KeySource] = field(default_factory=dict)
    seal: KeySource | None = None


def load_certificates(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if pem.detect(data):
        return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [x509.Certificate.load(data)]


def _key(entry: object, where: str, base: Path, path: Path) -> KeySource:
    def fail(reason: str) -> MinutesError:
        return MinutesError("signing_config", path=path, reason=f"{where}: {reason}")

    if not isinstance(entry, dict):
        raise fail("a table expected")
    unknown = set(entry) - PKCS12_KEYS - PKCS11_KEYS
    if unknown:
        raise fail(f"unknown key {sorted(unknown)[0]!r}")
    if not all(isinstance(v, str) and v for v in entry.values()):
        raise fail("every value is a non-empty string")
    optional = (lambda name: base / entry[name] if name in entry else None)
    if "pkcs12" in entry:
        if set(entry) - PKCS12_KEYS:
            raise fail("pkcs12 and pkcs11_module are exclusive")
        return Pkcs12Key(base / entry["pkcs12"], optional("passphrase_file"))
    missing = {"pkcs11_module", "token_label", "key_label"} - set(entry)
    if missing:
        raise fail(f"needs pkcs12, or pkcs11_module with token_label and key_label (missing {sorted(missing)[0]})")
    return Pkcs11Key(Path(entry["pkcs11_module"]), entry["token_label"], entry["key_label"],
                     entry.get("cert_label", entry["key_label"]), optional("pin_file"))


def load_signing_config(path: Path) -> SigningConfig:
    """Read and check signing.toml; every mistake names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MinutesError("signing_config", path=path, reason=error.strerror or str(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise MinutesError("signing_config", path=path, reason=str(error)) from None
    unknown = set(data) - {"trust_roots", "tsa_url", "keys", "seal"}
    if unknown:
        raise MinutesError("signing_config", path=path, reason=f"unknown key {sorted(unknown)[0]!r}")
    base = path.parent
    roots_value = data.get("trust_roots", [])
    if not isinstance(roots_value, list) or not roots_value or not all(isinstance(r, str) for r in roots_value):
        raise MinutesError("signing_config", path=path, reason="trust_roots: a non-empty list of certificate files")
    roots = []
    for name in roots_value:
        try:
            roots += load_certificates(base / name)
        except (OSError, ValueError) as error:
            raise MinutesError("signing_config", path=path, reason=f"trust_roots: {name}: {error}") from None
    tsa = data.get("tsa_url")
    if tsa is not None and not (isinstance(tsa, str) and tsa.startswith(("http://", "https://"))):
        raise MinutesError("signing_config", path=path, reason="tsa_url: an http:// or https:// URL")
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise MinutesError("signing_config", path=path, reason="keys: a table of accounts")
    return SigningConfig(
        trust_roots=roots, tsa_url=tsa,
        keys={user: _key(entry, f"keys.{user}", base, path) for user, entry in keys.items()},
        seal=_key(data["seal"], "seal", base, path) if "seal" in data else None,
    )


def _secret(path: Path | None, who: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise MinutesError("key_unreadable", name=who, reason=f"{path}: {error.strerror}") from None


@contextlib.contextmanager
def open_signer(source: KeySource, who: str) -> Iterator[signers.Signer]:
    """A pyHanko signer for the key; a PKCS#11 session stays open until the block ends."""
    if isinstance(source, Pkcs12Key):
        passphrase = _secret(source.passphrase_file, who)
        signer = signers.SimpleSigner.load_pkcs12(
            str(source.path), passphrase=passphrase.encode() if passphrase is not None else None
        )
        if signer is None:
            raise MinutesError("key_unreadable", name=who, reason=f"{source.path}: sai mật khẩu hoặc tệp hỏng")
        yield signer
        return
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign import pkcs11

    pin = _secret(source.pin_file, who)
    try:
        session = pkcs11.open_pkcs11_session(str(source.module), user_pin=pin,
                                             token_criteria=TokenCriteria(label=source.token_label))
    except Exception as error:  # python-pkcs11 raises many kinds; the user needs the reason
        raise MinutesError("key_unreadable", name=who, reason=f"PKCS#11 {source.token_label}: {error!r}") from None
    try:
        yield pkcs11.PKCS11Signer(session, cert_label=source.cert_label, key_label=source.key_label)
    finally:
        session.close()
