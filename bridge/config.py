"""The agent's settings: command-line arguments over an optional TOML file, checked before anything starts."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bridge.texts import AgentError, say

KEYS = ("server", "point", "token_file", "video", "audio", "audio_out", "record", "display", "ca_file", "max_backoff")
POINT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class AgentConfig:
    server: str  # base URL, without a trailing slash
    point: str
    token: str
    video: str  # source specs (bridge.sources); "none" for no such source
    audio: str
    audio_out: str  # output specs (bridge.outputs)
    record: str
    display: str  # the room's screen (bridge.display): none, auto, or an X display such as :0
    ca_file: Path | None  # trust this certificate (a self-signed server) instead of the system's
    max_backoff: float  # seconds between two reconnection attempts, at most


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise AgentError("input_error", str(path), say("config_unreadable", reason=getattr(error, "strerror", None) or error)) from None
    except tomllib.TOMLDecodeError as error:
        raise AgentError("input_error", str(path), say("config_unreadable", reason=error)) from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise AgentError("input_error", str(path), say("config_key", keys=", ".join(unknown)))
    return data


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise AgentError("input_error", f"--token-file {path}", say("token_unreadable", reason=getattr(error, "strerror", None) or error)) from None
    if not token.startswith("hnp_") or any(ch.isspace() for ch in token):
        raise AgentError("input_error", f"--token-file {path}", say("token_empty"))
    return token


def build_config(args: dict[str, Any], config_file: Path | None) -> AgentConfig:
    """Merge the file (if any) and the arguments given (not None), then check every value."""
    values: dict[str, Any] = _read_toml(config_file) if config_file else {}
    values.update({k: v for k, v in args.items() if v is not None})
    for key in ("server", "point", "token_file"):
        if not values.get(key):
            raise AgentError("input_error", f"--{key.replace('_', '-')}", say("missing"))
    server = str(values["server"]).rstrip("/")
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AgentError("input_error", f"--server {server}", say("bad_url"))
    point = str(values["point"])
    if not POINT_ID.match(point):
        raise AgentError("input_error", f"--point {point}", say("bad_point"))
    try:
        max_backoff = float(values.get("max_backoff", 3.0))
    except (TypeError, ValueError):
        max_backoff = -1.0
    if not 0 < max_backoff <= 3600:
        raise AgentError("input_error", "--max-backoff", say("bad_number"))
    video, audio = str(values.get("video", "none")), str(values.get("audio", "none"))
    if video == "none" and audio == "none":
        raise AgentError("input_error", "--video/--audio", say("no_media"))
    ca = values.get("ca_file")
    return AgentConfig(
        server=server, point=point, token=_read_token(Path(values["token_file"])), video=video, audio=audio,
        audio_out=str(values.get("audio_out", "none")), record=str(values.get("record", "none")),
        display=str(values.get("display", "none")),
        ca_file=Path(ca) if ca else None, max_backoff=max_backoff,
    )
