"""The checks Decree 23/2025 asks for before signing: validity, key usage, chain, revocation.

Each failure raises MinutesError with a Vietnamese message naming the problem. Revocation is
checked against the CRLs and OCSP responders the certificate names when they answer
("when reachable"); a certificate found revoked is always refused.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, RevokedError

from meetings.minutes.drafting import local
from meetings.minutes.messages import MinutesError

SIGNING_USAGES = {"digital_signature", "non_repudiation"}
VIETNAM_FORMAT = "%d/%m/%Y %H:%M"


def subject_name(cert: x509.Certificate) -> str:
    return cert.subject.native.get("common_name") or cert.subject.human_friendly


def _local(at: datetime) -> str:
    return local(at).strftime(VIETNAM_FORMAT)


def check_dates_and_usage(cert: x509.Certificate, now: datetime) -> None:
    name = subject_name(cert)
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if now > not_after:
        raise MinutesError("cert_expired", name=name, when=_local(not_after))
    if now < not_before:
        raise MinutesError("cert_not_yet_valid", name=name, when=_local(not_before))
    usage = cert.key_usage_value
    if usage is None or not (set(usage.native) & SIGNING_USAGES):
        raise MinutesError("cert_usage", name=name)


def validation_context(trust_roots: Sequence[x509.Certificate], others: Sequence[x509.Certificate] = (),
                       fetch: bool = True) -> ValidationContext:
    return ValidationContext(trust_roots=list(trust_roots), other_certs=list(others), allow_fetching=fetch,
                             revocation_mode="soft-fail")


async def check_before_signing(cert: x509.Certificate, chain: Sequence[x509.Certificate],
                               trust_roots: Sequence[x509.Certificate], now: datetime | None = None) -> None:
    """Raise MinutesError unless `cert` may sign now."""
    now = now or datetime.now(timezone.utc)
    check_dates_and_usage(cert, now)
    name = subject_name(cert)
    context = validation_context(trust_roots, chain)
    validator = CertificateValidator(cert, intermediate_certs=list(chain), validation_context=context)
    try:
        await validator.async_validate_usage(SIGNING_USAGES & set(cert.key_usage_value.native))
    except RevokedError as error:
        raise MinutesError("cert_revoked", name=name, when=_local(error.revocation_dt)) from None
    except PathBuildingError as error:
        raise MinutesError("cert_untrusted", name=name, reason=str(error)) from None
    except PathValidationError as error:
        raise MinutesError("cert_untrusted", name=name, reason=str(error)) from None
    finally:
        await context.aclose()  # the fetchers' HTTP session belongs to this event loop
