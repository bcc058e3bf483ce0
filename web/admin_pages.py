"""Pages of the administrator (accounts, bridge points) and everyone's own password.

    GET  /accounts[?q=]                     list and search; POST /accounts creates
    POST /accounts/{id}                     role and profile;  POST /accounts/{id}/active   (de)activate
    POST /accounts/{id}/reset-password      a one-time password, shown once
    GET  /points                            bridge points; POST /points/{id}/token, /points/{id}/revoke
    GET  /password                          change one's own password (forced after a reset); POST saves

A one-time password or token is shown on the page that answers the POST, never stored in clear.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from meetings import account_admin, point_admin
from meetings.accounts import AccountError, Principal, add_account
from meetings.localtime import format_datetime
from meetings.models import ACCOUNT_ROLES
from web.admin_texts import TEXTS as ADMIN_TEXTS
from web.api.errors import ACCOUNT_FIELDS
from web.auth import PRINCIPAL, requires
from web.error_texts import error_message, field_message
from web.i18n import request_language
from web.pages import render
from web.path_ids import path_id_or_404
from web.realtime import disconnect_principal
from web.state import app_state


def _texts(request: web.Request) -> dict[str, str]:
    return ADMIN_TEXTS[request_language(request)]


def _id(request: web.Request, name: str) -> int:
    return path_id_or_404(request, name)


async def _form(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


def _account_problem(request: web.Request, error: AccountError) -> tuple[str, str]:
    """(field or "", message): problems of one field are shown beside it."""
    lang = request_language(request)
    field = ACCOUNT_FIELDS.get(error.code) or str(error.params.get("field", ""))
    message = field_message(lang, error.code, error.params) if field else error_message(lang, error.code, error.params)
    return field, message


# ------------------------------------------------------------------ accounts

async def _accounts_page(
    request: web.Request, *, notice: str = "", error: str = "", errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    query = request.query.get("q", "")
    async with app_state(request).sessions() as session:
        accounts = await account_admin.list_accounts(session, query)
    return render(
        request, "accounts", status=status, a=_texts(request), accounts=accounts, query=query, roles=ACCOUNT_ROLES,
        notice=notice, error=error, errors=errors or {}, values=values or {"role": "delegate"},
    )


@requires("account.create")
async def accounts(request: web.Request) -> web.StreamResponse:
    return await _accounts_page(request)


@requires("account.create")
async def create_account(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    password = account_admin.new_one_time_password()
    try:
        async with app_state(request).sessions() as session:
            account = await add_account(
                session, form.get("username", ""), form.get("role", ""), password, form.get("display_name", "").strip() or None,
                email=form.get("email"), position=form.get("position", ""), unit=form.get("unit", ""), must_change_password=True,
            )
            username = account.username
    except AccountError as problem:
        field, message = _account_problem(request, problem)
        return await _accounts_page(request, errors={field or "username": message}, values=form, status=422)
    return await _accounts_page(request, notice=_texts(request)["account_created"].format(username=username, password=password))


async def _after(request: web.Request, action: Any, notice_key: str) -> web.StreamResponse:
    try:
        async with app_state(request).sessions() as session:
            result = await action(session)
    except AccountError as problem:
        return await _accounts_page(request, error=_account_problem(request, problem)[1], status=409)
    return await _accounts_page(request, notice=_texts(request)[notice_key].format(**result))


@requires("account.update")
async def update_account(request: web.Request) -> web.StreamResponse:
    account_id, form = _id(request, "account_id"), await _form(request)

    async def change(session: Any) -> dict[str, str]:
        view = await account_admin.update_account(
            session, account_id, role=form.get("role"), display_name=form.get("display_name"),
            email=form.get("email") or None, clear_email=form.get("email") == "", position=form.get("position"),
            unit=form.get("unit"),
        )
        return {"username": view.username}

    return await _after(request, change, "saved")


@requires("account.deactivate")
async def set_active(request: web.Request) -> web.StreamResponse:
    account_id, form = _id(request, "account_id"), await _form(request)
    active = form.get("active") == "1"

    async def change(session: Any) -> dict[str, str]:
        return {"username": (await account_admin.set_active(session, account_id, active)).username}

    response = await _after(request, change, "activated" if active else "deactivated")
    if not active and response.status == 200:
        await disconnect_principal(app_state(request), "account", str(account_id))
    return response


@requires("account.reset_password")
async def reset_password(request: web.Request) -> web.StreamResponse:
    account_id = _id(request, "account_id")

    async def change(session: Any) -> dict[str, str]:
        password = await account_admin.reset_password(session, account_id)
        account = next(a for a in await account_admin.list_accounts(session) if a.id == account_id)
        return {"username": account.username, "password": password}

    response = await _after(request, change, "password_reset_done")
    await disconnect_principal(app_state(request), "account", str(account_id))
    return response


# ------------------------------------------------------------------ bridge points

async def _points_page(request: web.Request, notice: str = "", status: int = 200) -> web.Response:
    lang = request_language(request)
    async with app_state(request).sessions() as session:
        points = await point_admin.list_points(session)
    seen = {p.id: format_datetime(p.last_seen_at, lang) if p.last_seen_at else "" for p in points}
    return render(request, "points", status=status, a=_texts(request), points=points, seen=seen, notice=notice)


@requires("point.token_issue")
async def points(request: web.Request) -> web.StreamResponse:
    return await _points_page(request)


async def _point_name(request: web.Request, point_id: str) -> str:
    async with app_state(request).sessions() as session:
        return next((p.name for p in await point_admin.list_points(session) if p.id == point_id), point_id)


@requires("point.token_issue")
async def issue_token(request: web.Request) -> web.StreamResponse:
    point_id, principal = request.match_info["point_id"], request[PRINCIPAL]
    try:
        async with app_state(request).sessions() as session:
            token = await point_admin.issue_token(session, point_id, f"{principal.kind}:{principal.id}")
    except AccountError:
        raise web.HTTPNotFound() from None
    name = await _point_name(request, point_id)
    return await _points_page(request, _texts(request)["token_shown_once"].format(name=name, token=token))


@requires("point.token_revoke")
async def revoke_token(request: web.Request) -> web.StreamResponse:
    point_id = request.match_info["point_id"]
    try:
        async with app_state(request).sessions() as session:
            await point_admin.revoke_tokens(session, point_id)
    except AccountError:
        raise web.HTTPNotFound() from None
    await disconnect_principal(app_state(request), "point", point_id)
    return await _points_page(request, _texts(request)["token_revoked"].format(name=await _point_name(request, point_id)))


# ------------------------------------------------------------------ own password

@requires("account.change_own_password")
async def password_page(request: web.Request) -> web.StreamResponse:
    return render(request, "password", a=_texts(request), errors={}, notice="")


@requires("account.change_own_password")
async def change_password(request: web.Request) -> web.StreamResponse:
    principal: Principal = request[PRINCIPAL]
    form = await _form(request)
    lang = request_language(request)
    if form.get("new_password", "") != form.get("repeat_password", ""):
        return render(request, "password", status=422, a=_texts(request), notice="",
                      errors={"repeat_password": field_message(lang, "passwords_differ")})
    try:
        async with app_state(request).sessions() as session:
            await account_admin.change_own_password(
                session, principal.account_id or 0, form.get("current_password", ""), form.get("new_password", ""),
            )
    except AccountError as problem:
        field, message = _account_problem(request, problem)
        return render(request, "password", status=422, a=_texts(request), notice="", errors={field or "new_password": message})
    raise web.HTTPSeeOther("/home?done=password_changed")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/accounts", accounts)
    app.router.add_post("/accounts", create_account)
    app.router.add_post(r"/accounts/{account_id:\d+}", update_account)
    app.router.add_post(r"/accounts/{account_id:\d+}/active", set_active)
    app.router.add_post(r"/accounts/{account_id:\d+}/reset-password", reset_password)
    app.router.add_get("/points", points)
    app.router.add_post("/points/{point_id}/token", issue_token)
    app.router.add_post("/points/{point_id}/revoke", revoke_token)
    app.router.add_get("/password", password_page)
    app.router.add_post("/password", change_password)
