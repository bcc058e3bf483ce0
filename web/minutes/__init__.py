"""The minutes in the web layer: editor, signing, publishing and the public verification page."""
from web.minutes.routes import setup

__all__ = ["setup"]
