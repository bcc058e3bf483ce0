"""What an administrator does to accounts, with the rules that keep an installation usable:
never deactivate (or demote) the only administrator, nor someone chairing or keeping the minutes
of a meeting not yet over. Deactivating or resetting a password ends the account's sessions;
the web layer also closes its open sockets (web/account_pages.py)."""
from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.accounts import AccountError, hash_password_off_loop, normalise_email, profile_text, verify_password_off_loop
from meetings.models import ACCOUNT_ROLES, Account, AuthSession, Meeting
from meetings.passwords import MIN_PASSWORD_LENGTH

ONE_TIME_PASSWORD_BYTES = 9  # 12 characters of URL-safe base64, typed once by hand


@dataclass(frozen=True)
class AccountView:
    id: int
    username: str
    display_name: str
    role: str
    email: str | None
    position: str
    unit: str
    disabled: bool
    must_change_password: bool


def view(account: Account) -> AccountView:
    return AccountView(
        account.id, account.username, account.display_name, account.role, account.email, account.position,
        account.unit, account.disabled, account.must_change_password,
    )


def _folded(text: str) -> str:
    """Lower case without diacritics (đ too): "nguyen van a" finds "Nguyễn Văn A"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn").casefold()


async def list_accounts(session: AsyncSession, query: str = "", include_disabled: bool = True) -> list[AccountView]:
    """Accounts whose username, name, position, unit or e-mail contain `query` (ignoring accents)."""
    rows = (await session.execute(select(Account).order_by(Account.display_name, Account.id))).scalars()
    wanted = _folded(query.strip())
    found = []
    for account in rows:
        if account.disabled and not include_disabled:
            continue
        haystack = _folded(" ".join((account.username, account.display_name, account.position, account.unit, account.email or "")))
        if wanted in haystack:
            found.append(view(account))
    return found


async def _account(session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountError(f"no account has id {account_id}", "not_found", {"id": account_id})
    return account


async def _is_only_admin(session: AsyncSession, account: Account) -> bool:
    if account.role != "admin" or account.disabled:
        return False
    others = await session.execute(
        select(func.count(Account.id)).where(Account.role == "admin", Account.disabled.is_(False), Account.id != account.id)
    )
    return others.scalar_one() == 0


async def _meeting_in_charge(session: AsyncSession, account_id: int) -> Meeting | None:
    """A meeting not yet over (scheduled or open) that this account chairs or is secretary of."""
    return (
        await session.execute(
            select(Meeting)
            .where(or_(Meeting.chair_id == account_id, Meeting.secretary_id == account_id))
            .where(Meeting.status.in_(("scheduled", "open")))
            .order_by(Meeting.scheduled_start)
            .limit(1)
        )
    ).scalar_one_or_none()


async def update_account(
    session: AsyncSession, account_id: int, *, role: str | None = None, display_name: str | None = None,
    email: str | None = None, position: str | None = None, unit: str | None = None, clear_email: bool = False,
) -> AccountView:
    """Change profile fields and the role; refuses to demote the only administrator."""
    account = await _account(session, account_id)
    if role is not None and role != account.role:
        if role not in ACCOUNT_ROLES:
            raise AccountError(f"role must be one of {', '.join(ACCOUNT_ROLES)}, not {role!r}", "bad_role")
        if await _is_only_admin(session, account):
            raise AccountError("the only administrator cannot lose that role", "only_admin")
        account.role = role
    if display_name is not None:
        name = profile_text(display_name, "display_name")
        if not name:
            raise AccountError("display_name must not be empty", "required", {"field": "display_name"})
        account.display_name = name
    if email is not None or clear_email:
        account.email = normalise_email(email)
    if position is not None:
        account.position = profile_text(position, "position")
    if unit is not None:
        account.unit = profile_text(unit, "unit")
    await session.commit()
    return view(account)


async def set_active(session: AsyncSession, account_id: int, active: bool) -> AccountView:
    """Deactivate (ending every session at once) or reactivate an account."""
    account = await _account(session, account_id)
    if not active:
        if await _is_only_admin(session, account):
            raise AccountError("the only administrator cannot be deactivated", "only_admin")
        meeting = await _meeting_in_charge(session, account_id)
        if meeting is not None:
            raise AccountError(
                f"{account.username} chairs or keeps the minutes of meeting {meeting.id} ({meeting.title}), not yet closed",
                "in_charge_of_meeting", {"title": meeting.title, "meeting_id": meeting.id},
            )
        await session.execute(delete(AuthSession).where(AuthSession.account_id == account_id))
    account.disabled = not active
    await session.commit()
    return view(account)


async def reset_password(session: AsyncSession, account_id: int) -> str:
    """A new one-time password (returned once, never stored in clear); the account must change it
    at its next login, and its current sessions end."""
    account = await _account(session, account_id)
    password = new_one_time_password()
    account.password_hash = await hash_password_off_loop(password)
    account.must_change_password = True
    await session.execute(delete(AuthSession).where(AuthSession.account_id == account_id))
    await session.commit()
    return password


def new_one_time_password() -> str:
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


async def change_own_password(session: AsyncSession, account_id: int, current: str, new: str) -> None:
    """Everyone changes their own password, proving the current one; clears a forced change."""
    account = await _account(session, account_id)
    if not await verify_password_off_loop(account.password_hash, current):
        raise AccountError("the current password is wrong", "wrong_password")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"at least {MIN_PASSWORD_LENGTH} characters", "weak_password", {"min": MIN_PASSWORD_LENGTH})
    if new == current:
        raise AccountError("the new password is the current one", "same_password")
    account.password_hash = await hash_password_off_loop(new)
    account.must_change_password = False
    await session.commit()
