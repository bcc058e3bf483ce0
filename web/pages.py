"""Server-rendered HTML pages: Jinja2 templates in web/templates, autoescaped.

Every page gets `t` (the texts of its language, web/i18n.py), `lang`, `other_lang`, `lang_url`
(the same page in the other language), `principal` (or None) and `csrf_token` (web/csrf.py),
so templates extending base.html need nothing else to show the header and the language link.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.i18n import TEXTS, remember_language, request_language

TEMPLATES = Path(__file__).with_name("templates")


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["language_url"] = language_url


def language_url(request: web.Request, lang: str) -> str:
    """This page in another language, keeping its other query parameters."""
    query = {k: v for k, v in request.query.items() if k != "lang"}
    query["lang"] = lang
    return f"{request.path}?{urlencode(query)}"


def base_context(request: web.Request) -> dict[str, Any]:
    """What base.html needs: language, texts, who is logged in, the form token."""
    from web.auth import PRINCIPAL  # web.auth renders pages too
    from web.csrf import csrf_token

    lang = request_language(request)
    other = "en" if lang == "vi" else "vi"
    return {
        "request": request,
        "lang": lang,
        "other_lang": other,
        "lang_url": language_url(request, other),
        "t": TEXTS[lang],
        "principal": request.get(PRINCIPAL),
        "csrf_token": csrf_token(request),
    }


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    """Render `template` (name without .html) with the base context plus `values`."""
    context = base_context(request)
    context.update(values)
    response = aiohttp_jinja2.render_template(f"{template}.html", request, context, status=status)
    remember_language(request, response)
    from web.csrf import remember_anonymous_token

    remember_anonymous_token(request, response)
    return response


def text(request: web.Request, key: str) -> str:
    return TEXTS[request_language(request)][key]
