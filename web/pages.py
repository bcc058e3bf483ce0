"""Server-rendered HTML pages from web/templates, with every value escaped."""
from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from string import Template

from aiohttp import web

from web.i18n import TEXTS, remember_language, request_language

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=None)
def _template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def render(request: web.Request, template: str, status: int = 200, raw: dict[str, str] | None = None, **values: str) -> web.Response:
    """Fill a template: $t_KEY is translated text, other $names are escaped values, raw is pre-built HTML."""
    lang = request_language(request)
    fields = {f"t_{key}": html.escape(text) for key, text in TEXTS[lang].items()}
    fields.update({key: html.escape(str(value)) for key, value in values.items()})
    fields.update(raw or {})
    fields["lang"] = lang
    fields["other_lang"] = "en" if lang == "vi" else "vi"
    body = _template(template).substitute(fields)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    remember_language(request, response)
    return response


def text(request: web.Request, key: str) -> str:
    return TEXTS[request_language(request)][key]
