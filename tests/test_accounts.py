"""Accounts, passwords, bridge-point tokens and sessions, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from meetings.accounts import (
    AccountError,
    add_account,
    authenticate_password,
    authenticate_point_token,
    open_session,
    resolve_session,
    revoke_point_token,
)
from meetings.models import Account, BridgePoint
from meetings.passwords import WeakPasswordError
from meetings.point_tokens import hash_point_token, new_point_token
from meetings.models import utcnow


async def test_password_login(db_sessions) -> None:
    async with db_sessions() as session:
        await add_account(session, "ThuKy", "secretary", "mat-khau-dai", "Trần Thị Bình")
        stored = (await session.execute(select(Account.password_hash))).scalar_one()
        assert stored.startswith("$argon2id$") and "mat-khau-dai" not in stored
        principal = await authenticate_password(session, "thuky", "mat-khau-dai")
        assert principal is not None and principal.name == "Trần Thị Bình" and principal.role == "secretary"
        assert await authenticate_password(session, "thuky", "sai-mat-khau") is None
        assert await authenticate_password(session, "khongco", "mat-khau-dai") is None


async def test_account_mistakes_change_nothing(db_sessions) -> None:
    async with db_sessions() as session:
        await add_account(session, "a", "delegate", "12345678")
        with pytest.raises(AccountError, match="already exists"):
            await add_account(session, "A", "delegate", "abcdefgh")
        with pytest.raises(AccountError, match="role must be one of"):
            await add_account(session, "b", "king", "abcdefgh")
        with pytest.raises(WeakPasswordError):
            await add_account(session, "c", "delegate", "short")
        names = (await session.execute(select(Account.username))).scalars().all()
        assert names == ["a"]


async def test_disabled_account_and_expired_session(db_sessions) -> None:
    async with db_sessions() as session:
        await add_account(session, "chutoa", "chair", "abcdefgh")
        principal = await authenticate_password(session, "chutoa", "abcdefgh")
        session_id = await open_session(session, principal)
        assert (await resolve_session(session, session_id)) == principal
        assert await resolve_session(session, session_id, now=utcnow() + timedelta(days=1)) is None
        await session.execute(update(Account).values(disabled=True))
        await session.commit()
        assert await resolve_session(session, session_id) is None
        assert await authenticate_password(session, "chutoa", "abcdefgh") is None


async def test_point_token_login_and_revocation(db_sessions) -> None:
    token = new_point_token()
    async with db_sessions() as session:
        point = await session.get(BridgePoint, "xa-ba-che")
        point.token_hash = hash_point_token(token)
        await session.commit()
        principal = await authenticate_point_token(session, token)
        assert principal is not None and principal.kind == "point" and principal.id == "xa-ba-che"
        assert await authenticate_point_token(session, token + "x") is None
        session_id = await open_session(session, principal, point_token=token)
        assert await resolve_session(session, session_id) == principal

        assert await revoke_point_token(session, "xa-ba-che") == 1
        assert await authenticate_point_token(session, token) is None
        assert await resolve_session(session, session_id) is None
        with pytest.raises(AccountError, match="no token_hash"):
            await revoke_point_token(session, "tinh-uy")


async def test_first_admin_only_on_an_empty_installation(db_sessions) -> None:
    from meetings.accounts import create_first_admin

    async with db_sessions() as session:
        password = await create_first_admin(session)
        assert password and len(password) >= 12
        principal = await authenticate_password(session, "admin", password)
        assert principal is not None and principal.role == "admin"
        assert principal.must_change_password  # the printed one-time password is replaced at once
        assert await create_first_admin(session) is None


async def test_point_sessions_slide_while_in_use(db_sessions) -> None:
    from meetings.accounts import POINT_SESSION_LIFETIME

    token = new_point_token()
    async with db_sessions() as session:
        (await session.get(BridgePoint, "tinh-uy")).token_hash = hash_point_token(token)
        await session.commit()
        session_id = await open_session(session, await authenticate_point_token(session, token), point_token=token)
        day_20 = utcnow() + timedelta(days=20)
        assert await resolve_session(session, session_id, now=day_20) is not None  # used on day 20: extended
        assert await resolve_session(session, session_id, now=day_20 + POINT_SESSION_LIFETIME - timedelta(hours=1))
        assert await resolve_session(session, session_id, now=day_20 + 3 * POINT_SESSION_LIFETIME) is None


async def test_profile_fields_for_minutes_and_mail(db_sessions) -> None:  # type: ignore[no-untyped-def]
    async with db_sessions() as session:
        account = await add_account(
            session, "nguyenvana", "delegate", "mat-khau-123", "Nguyễn Văn A",
            email=" a.nguyen@stc.quangninh.gov.vn ", position="Giám đốc Sở Tài chính", unit="Sở Tài chính",
        )
    async with db_sessions() as session:
        stored = await session.get(Account, account.id)
        assert stored.email == "a.nguyen@stc.quangninh.gov.vn"
        assert (stored.position, stored.unit, stored.must_change_password) == ("Giám đốc Sở Tài chính", "Sở Tài chính", False)
        with pytest.raises(AccountError, match="e-mail"):
            await add_account(session, "b", "delegate", "mat-khau-123", email="khong-phai-dia-chi")
        with pytest.raises(AccountError, match="position"):
            await add_account(session, "c", "delegate", "mat-khau-123", position="x" * 201)
    async with db_sessions() as session:
        assert (await session.execute(select(func.count(Account.id)))).scalar_one() == 1  # nothing saved
