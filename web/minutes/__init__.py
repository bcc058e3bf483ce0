"""The minutes in the web layer: editor, signing, publishing and the public verification page."""
from web.minutes import openapi  # noqa: F401  (describes the routes in /api/openapi.json)
from web.minutes.routes import setup

__all__ = ["setup"]
