"""Accounts, logins and sessions for people (password) and bridge points (token)."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.models import ACCOUNT_ROLES, Account, AuthSession, BridgePoint, RevokedPointToken, utcnow
from meetings.passwords import hash_password, verify_password
from meetings.point_tokens import hash_point_token, token_matches

SESSION_LIFETIME = timedelta(hours=12)
POINT_SESSION_LIFETIME = timedelta(days=30)  # a room PC logs in once and stays on the TV


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who is behind a request: a person's account or a bridge point."""

    kind: str  # "account" or "point"
    id: str  # account id (as text) or point id
    name: str
    role: str  # account role, or "point"

    @property
    def account_id(self) -> int | None:
        return int(self.id) if self.kind == "account" else None


def normalise_username(username: str) -> str:
    name = unicodedata.normalize("NFC", username).strip().lower()
    if not name or len(name) > 64 or any(ch.isspace() for ch in name):
        raise AccountError("username must be 1–64 characters without spaces")
    return name


def normalise_email(email: str | None) -> str | None:
    """None or '' means no address; otherwise one plausible address (the SMTP server has the last word)."""
    address = unicodedata.normalize("NFC", email or "").strip()
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or len(address) > 254 or any(ch.isspace() for ch in address):
        raise AccountError(f"not an e-mail address: {address!r}")
    return address


def _profile_text(value: str, field: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > 200:
        raise AccountError(f"{field}: at most 200 characters")
    return text


async def add_account(
    session: AsyncSession,
    username: str,
    role: str,
    password: str,
    display_name: str | None = None,
    *,
    email: str | None = None,
    position: str = "",
    unit: str = "",
    must_change_password: bool = False,
) -> Account:
    """A new account; position and unit (chức vụ, đơn vị) are what the minutes print after the name."""
    if role not in ACCOUNT_ROLES:
        raise AccountError(f"role must be one of {', '.join(ACCOUNT_ROLES)}, not {role!r}")
    name = normalise_username(username)
    account = Account(
        username=name,
        display_name=_profile_text(display_name or username, "display_name"),
        role=role,
        password_hash=hash_password(password),
        email=normalise_email(email),
        position=_profile_text(position, "position"),
        unit=_profile_text(unit, "unit"),
        must_change_password=must_change_password,
    )
    session.add(account)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AccountError(f"an account named {name!r} already exists") from None
    return account


async def create_first_admin(session: AsyncSession) -> str | None:
    """On an installation with no account yet, create `admin` and return its one-time password."""
    if (await session.execute(select(func.count(Account.id)))).scalar_one():
        return None
    password = secrets.token_urlsafe(12)
    await add_account(session, "admin", "admin", password, "Quản trị hệ thống")
    return password


def _principal_of_account(account: Account) -> Principal:
    return Principal("account", str(account.id), account.display_name, account.role)


def _principal_of_point(point: BridgePoint) -> Principal:
    return Principal("point", point.id, point.name, "point")


async def authenticate_password(session: AsyncSession, username: str, password: str) -> Principal | None:
    try:
        name = normalise_username(username)
    except AccountError:
        name = ""
    account = (await session.execute(select(Account).where(Account.username == name))).scalar_one_or_none()
    ok = verify_password(account.password_hash if account else None, password)
    if not ok or account is None or account.disabled:
        return None
    return _principal_of_account(account)


async def authenticate_point_token(session: AsyncSession, token: str) -> Principal | None:
    """Find the active bridge point whose configured hash matches, unless that hash was revoked."""
    token_hash = hash_point_token(token)
    point = (
        await session.execute(
            select(BridgePoint).where(BridgePoint.token_hash == token_hash, BridgePoint.active.is_(True))
        )
    ).scalar_one_or_none()
    if point is None or not token_matches(token, point.token_hash):
        return None
    if await session.get(RevokedPointToken, token_hash) is not None:
        return None
    return _principal_of_point(point)


async def revoke_point_token(session: AsyncSession, point_id: str) -> int:
    """Revoke the point's current token and end its sessions; returns the sessions ended."""
    point = await session.get(BridgePoint, point_id)
    if point is None:
        raise AccountError(f"no bridge point has id {point_id!r}")
    if point.token_hash is None:
        raise AccountError(f"bridge point {point_id!r} has no token_hash in rooms.toml")
    if await session.get(RevokedPointToken, point.token_hash) is None:
        session.add(RevokedPointToken(token_hash=point.token_hash, point_id=point_id))
    ended = await session.execute(delete(AuthSession).where(AuthSession.point_id == point_id))
    await session.commit()
    return ended.rowcount or 0


def _hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


async def open_session(session: AsyncSession, principal: Principal, point_token: str | None = None) -> str:
    """Store a new login and return the cookie value (only its hash is kept)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    row = AuthSession(id_hash=_hash_session_id(session_id), created_at=now)
    if principal.kind == "account":
        row.account_id = principal.account_id
        row.expires_at = now + SESSION_LIFETIME
    else:
        row.point_id = principal.id
        row.point_token_hash = hash_point_token(point_token or "")
        row.expires_at = now + POINT_SESSION_LIFETIME
    session.add(row)
    await session.commit()
    return session_id


async def resolve_session(session: AsyncSession, session_id: str, now: datetime | None = None) -> Principal | None:
    """The principal of a live session; expired, revoked or disabled ones resolve to None."""
    if not session_id:
        return None
    row = await session.get(AuthSession, _hash_session_id(session_id))
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    if row.account_id is not None:
        account = await session.get(Account, row.account_id)
        return None if account is None or account.disabled else _principal_of_account(account)
    point = await session.get(BridgePoint, row.point_id)
    # A session outlives neither its token's revocation nor a new token in rooms.toml.
    if point is None or not point.active or point.token_hash != row.point_token_hash:
        return None
    if await session.get(RevokedPointToken, row.point_token_hash) is not None:
        return None
    now = now or utcnow()
    if row.expires_at - now < POINT_SESSION_LIFETIME / 2:
        # A room PC in daily use must never be asked for its token again: slide the expiry.
        row.expires_at = now + POINT_SESSION_LIFETIME
        await session.commit()
    return _principal_of_point(point)


async def close_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.id_hash == _hash_session_id(session_id)))
    await session.commit()
