"""Accounts, logins and sessions for people (password) and bridge points (token)."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.admin_models import IssuedPointToken
from meetings.models import ACCOUNT_ROLES, Account, AuthSession, BridgePoint, RevokedPointToken, utcnow
from meetings.passwords import (  # noqa: F401  (the *_off_loop pair is used through this module too)
    MIN_PASSWORD_LENGTH,
    hash_password_off_loop,
    needs_rehash,
    verify_password_off_loop,
)
from meetings.point_tokens import hash_point_token, token_matches

SESSION_LIFETIME = timedelta(hours=12)
POINT_SESSION_LIFETIME = timedelta(days=30)  # a room PC logs in once and stays on the TV
LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # a point's "last seen" is written at most this often


class AccountError(ValueError):
    """A refused account operation: the message is for logs and the CLI; `code` and `params`
    let the pages say it in the reader's language (web/i18n.py, `account_error_<code>`)."""

    def __init__(self, message: str, code: str = "invalid", params: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.params = params or {}


@dataclass(frozen=True)
class Principal:
    """Who is behind a request: a person's account or a bridge point."""

    kind: str  # "account" or "point"
    id: str  # account id (as text) or point id
    name: str
    role: str  # account role, or "point"
    must_change_password: bool = False  # after an administrator's reset: only /password until changed

    @property
    def account_id(self) -> int | None:
        return int(self.id) if self.kind == "account" else None


def normalise_username(username: str) -> str:
    name = unicodedata.normalize("NFC", username).strip().lower()
    if not name or len(name) > 64 or any(ch.isspace() for ch in name):
        raise AccountError("username must be 1–64 characters without spaces", "bad_username")
    return name


def normalise_email(email: str | None) -> str | None:
    """None or '' means no address; otherwise one plausible address (the SMTP server has the last word)."""
    address = unicodedata.normalize("NFC", email or "").strip()
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or len(address) > 254 or any(ch.isspace() for ch in address):
        raise AccountError(f"not an e-mail address: {address!r}", "bad_email")
    return address


def profile_text(value: str, field: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > 200:
        raise AccountError(f"{field}: at most 200 characters", "too_long", {"field": field, "max": 200})
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
        raise AccountError(f"role must be one of {', '.join(ACCOUNT_ROLES)}, not {role!r}", "bad_role")
    name = normalise_username(username)
    account = Account(
        username=name,
        display_name=profile_text(display_name or username, "display_name"),
        role=role,
        password_hash=await hash_password_off_loop(password),
        email=normalise_email(email),
        position=profile_text(position, "position"),
        unit=profile_text(unit, "unit"),
        must_change_password=must_change_password,
    )
    session.add(account)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise AccountError(f"an account named {name!r} already exists", "username_taken", {"username": name}) from None
    return account


async def create_first_admin(session: AsyncSession) -> str | None:
    """On an installation with no account yet, create `admin` and return its one-time password."""
    if (await session.execute(select(func.count(Account.id)))).scalar_one():
        return None
    password = secrets.token_urlsafe(12)
    await add_account(session, "admin", "admin", password, "Quản trị hệ thống", must_change_password=True)
    return password


def _principal_of_account(account: Account) -> Principal:
    return Principal("account", str(account.id), account.display_name, account.role, account.must_change_password)


def _principal_of_point(point: BridgePoint) -> Principal:
    return Principal("point", point.id, point.name, "point")


async def authenticate_password(session: AsyncSession, username: str, password: str) -> Principal | None:
    try:
        name = normalise_username(username)
    except AccountError:
        name = ""
    account = (await session.execute(select(Account).where(Account.username == name))).scalar_one_or_none()
    stored = account.password_hash if account else None
    principal = _principal_of_account(account) if account is not None and not account.disabled else None
    # End the transaction before hashing: a check takes a while, and a flood of logins
    # holding pooled connections meanwhile would starve every other request.
    await session.rollback()
    ok = await verify_password_off_loop(stored, password)
    if not ok or principal is None or stored is None:
        return None
    if needs_rehash(stored) and len(password) >= MIN_PASSWORD_LENGTH:
        rehashed = await hash_password_off_loop(password)
        await session.execute(update(Account).where(Account.id == int(principal.id)).values(password_hash=rehashed))
        await session.commit()
    return principal


async def _point_token_hashes(session: AsyncSession, point: BridgePoint) -> set[str]:
    """The hashes a point may log in with: rooms.toml's and the one issued from the web."""
    hashes = {point.token_hash} if point.token_hash else set()
    issued = await session.get(IssuedPointToken, point.id)
    if issued is not None:
        hashes.add(issued.token_hash)
    return hashes


async def authenticate_point_token(session: AsyncSession, token: str) -> Principal | None:
    """Find the active bridge point whose configured or issued hash matches, unless it was revoked."""
    token_hash = hash_point_token(token)
    point = (
        await session.execute(
            select(BridgePoint).where(BridgePoint.token_hash == token_hash, BridgePoint.active.is_(True))
        )
    ).scalar_one_or_none()
    if point is None:
        issued = (
            await session.execute(select(IssuedPointToken).where(IssuedPointToken.token_hash == token_hash))
        ).scalar_one_or_none()
        point = await session.get(BridgePoint, issued.point_id) if issued is not None else None
        if point is None or not point.active:
            return None
    if not any(token_matches(token, known) for known in await _point_token_hashes(session, point)):
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
    # A session outlives neither its token's revocation nor a new token (in rooms.toml or issued).
    if point is None or not point.active or row.point_token_hash not in await _point_token_hashes(session, point):
        return None
    if await session.get(RevokedPointToken, row.point_token_hash) is not None:
        return None
    now = now or utcnow()
    if row.expires_at - now < POINT_SESSION_LIFETIME / 2:
        # A room PC in daily use must never be asked for its token again: slide the expiry.
        row.expires_at = now + POINT_SESSION_LIFETIME
        await session.commit()
    if point.last_seen_at is None or now - point.last_seen_at > LAST_SEEN_RESOLUTION:
        point.last_seen_at = now  # shown on the administrator's bridge-point page
        await session.commit()
    return _principal_of_point(point)


async def close_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.id_hash == _hash_session_id(session_id)))
    await session.commit()


async def close_all_sessions(session: AsyncSession, principal: Principal) -> int:
    """Log the principal out everywhere (every browser, a stolen cookie included)."""
    column = AuthSession.account_id if principal.kind == "account" else AuthSession.point_id
    value = principal.account_id if principal.kind == "account" else principal.id
    result = await session.execute(delete(AuthSession).where(column == value))
    await session.commit()
    return result.rowcount or 0
