"""REST: the caller, accounts (administrators) and one's own password (docs/api.md, "Accounts")."""
from __future__ import annotations

from aiohttp import web

from meetings import account_admin
from meetings.accounts import Principal, add_account
from meetings.models import Account
from web.api import models as m
from web.api.registry import endpoint
from web.csrf import csrf_token
from web.permissions import actions_of
from web.realtime import disconnect_principal
from web.state import app_state

_ID = {"account_id": int}


def account_out(view: account_admin.AccountView) -> m.AccountOut:
    return m.AccountOut(
        id=view.id, username=view.username, display_name=view.display_name, role=view.role, email=view.email,  # type: ignore[arg-type]
        position=view.position, unit=view.unit, disabled=view.disabled, must_change_password=view.must_change_password,
    )


@endpoint("GET", "/api/me", summary="Who is logged in, what they may do, and the CSRF token", tag="accounts",
          action="account.change_own_password", responses={200: m.MeOut})
async def me(request: web.Request, principal: Principal, _: None) -> tuple[int, m.MeOut]:
    async with app_state(request).sessions() as session:
        account = await session.get(Account, principal.account_id)
        assert account is not None
        view = account_admin.view(account)
    return 200, m.MeOut(
        id=view.id, username=view.username, name=view.display_name, role=view.role, email=view.email,  # type: ignore[arg-type]
        position=view.position, unit=view.unit, must_change_password=view.must_change_password,
        csrf_token=csrf_token(request), allowed_actions=actions_of(principal.role),
    )


@endpoint("POST", "/api/me/password", summary="Change one's own password", tag="accounts",
          action="account.change_own_password", body=m.OwnPasswordIn, responses={200: m.OkOut})
async def change_password(request: web.Request, principal: Principal, body: m.OwnPasswordIn) -> tuple[int, m.OkOut]:
    async with app_state(request).sessions() as session:
        await account_admin.change_own_password(session, principal.account_id or 0, body.current_password, body.new_password)
    return 200, m.OkOut()


@endpoint("GET", "/api/accounts", summary="Accounts, optionally searched", tag="accounts", action="account.list",
          query=m.AccountListQuery, responses={200: m.AccountsOut},
          description="Secretaries read the list too: they choose chairs and delegates from it.")
async def list_accounts(request: web.Request, principal: Principal, _: None, query: m.AccountListQuery) -> tuple[int, m.AccountsOut]:
    async with app_state(request).sessions() as session:
        found = await account_admin.list_accounts(session, query.q)
    return 200, m.AccountsOut(accounts=[account_out(a) for a in found])


@endpoint("POST", "/api/accounts", summary="Create an account (a one-time password is returned once)", tag="accounts",
          action="account.create", body=m.AccountCreateIn, responses={201: m.AccountCreatedOut}, errors=(409,),
          request_example={"username": "nguyenvana", "display_name": "Nguyễn Văn A", "role": "delegate",
                           "email": "nva@stc.quangninh.gov.vn", "position": "Giám đốc Sở Tài chính", "unit": "Sở Tài chính"})
async def create_account(request: web.Request, principal: Principal, body: m.AccountCreateIn) -> tuple[int, m.AccountCreatedOut]:
    password = account_admin.new_one_time_password()
    async with app_state(request).sessions() as session:
        account = await add_account(
            session, body.username, body.role, password, body.display_name, email=body.email, position=body.position,
            unit=body.unit, must_change_password=True,
        )
        view = account_admin.view(account)
    return 201, m.AccountCreatedOut(account=account_out(view), one_time_password=password)


@endpoint("PATCH", "/api/accounts/{account_id}", summary="Change an account: profile, role, active", tag="accounts",
          action="account.update", path_params=_ID, body=m.AccountPatchIn, responses={200: m.AccountResponse},
          errors=(404, 409), request_example={"role": "chair", "position": "Phó Chủ tịch UBND tỉnh"},
          description="`active: false` deactivates: every session and open page of the account ends at once. "
                      "Refused for the only administrator, and for the chair or secretary of a meeting not yet closed.")
async def update_account(
    request: web.Request, principal: Principal, body: m.AccountPatchIn, account_id: int,
) -> tuple[int, m.AccountResponse]:
    state = app_state(request)
    async with state.sessions() as session:
        view = await account_admin.update_account(
            session, account_id, role=body.role, display_name=body.display_name,
            email=body.email or None, clear_email=body.email == "", position=body.position, unit=body.unit,
        )
        if body.active is not None and body.active == view.disabled:
            view = await account_admin.set_active(session, account_id, body.active)
    if view.disabled:
        await disconnect_principal(state, "account", str(account_id))
    return 200, m.AccountResponse(account=account_out(view))


@endpoint("POST", "/api/accounts/{account_id}/reset-password", summary="Reset a password (one-time, change forced)",
          tag="accounts", action="account.reset_password", path_params=_ID, responses={200: m.PasswordResetOut}, errors=(404,))
async def reset_password(request: web.Request, principal: Principal, _: None, account_id: int) -> tuple[int, m.PasswordResetOut]:
    state = app_state(request)
    async with state.sessions() as session:
        password = await account_admin.reset_password(session, account_id)
    await disconnect_principal(state, "account", str(account_id))
    return 200, m.PasswordResetOut(one_time_password=password)
