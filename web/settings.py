"""Run-time settings of one server process, from the command line and the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from meetings.db import sqlite_url

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
BUNDLED_ROOMS_TOML = Path(__file__).with_name("sample") / "rooms.toml"


def default_data_dir() -> Path:
    return Path(os.environ.get("HOINGHI_DATA_DIR", "hoinghi-data"))


DEFAULT_TALLY_INTERVAL_MS = 50


def tally_interval_from_env() -> int:
    """HOINGHI_TALLY_INTERVAL_MS: how often an open vote's changed tally is broadcast, at most
    (default 50; 0 broadcasts after every ballot, the naive design docs/architecture.md measured)."""
    raw = os.environ.get("HOINGHI_TALLY_INTERVAL_MS", "").strip()
    if not raw:
        return DEFAULT_TALLY_INTERVAL_MS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"not a whole number of milliseconds: {raw!r}") from None
    if not 0 <= value <= 60_000:
        raise ValueError(f"must be between 0 and 60000 ms, not {value}")
    return value


def default_config_path() -> Path:
    """./rooms.toml when the operator has one, else the bundled sample province."""
    local = Path("rooms.toml")
    return local if local.is_file() else BUNDLED_ROOMS_TOML


@dataclass(frozen=True)
class Settings:
    config_path: Path
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tally_interval_ms: int = DEFAULT_TALLY_INTERVAL_MS
    # Vosk model directory; None: HOINGHI_VOSK_MODEL, else the one `hoinghi model install` made active.
    vosk_model: Path | None = None
    asr_max_streams: int = 16  # microphones recognised at once (HOINGHI_ASR_MAX_STREAMS)
    # failed logins allowed per account before delays grow (per address: four times as many,
    # an office's NAT shares one address); web/login_limits.py
    login_free_attempts: int = 5
    # who may read /metrics: these remote addresses, or anyone with this bearer token
    # (HOINGHI_METRICS_ADDRESSES, comma-separated; HOINGHI_METRICS_TOKEN)
    metrics_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    metrics_token: str | None = None
    # reverse proxies that terminate TLS in front of this server (HOINGHI_TRUSTED_PROXIES,
    # comma-separated addresses or networks; --trusted-proxy): their X-Forwarded-* headers
    # name the browser's scheme, host and address (web/app.py, docs/deploy.md)
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        config_path: Path | None = None,
        data_dir: Path | None = None,
        database_url: str | None = None,
        **rest: object,
    ) -> "Settings":
        data_dir = data_dir or default_data_dir()
        if "tally_interval_ms" not in rest:
            rest["tally_interval_ms"] = tally_interval_from_env()
        if "metrics_addresses" not in rest and os.environ.get("HOINGHI_METRICS_ADDRESSES"):
            rest["metrics_addresses"] = tuple(
                a.strip() for a in os.environ["HOINGHI_METRICS_ADDRESSES"].split(",") if a.strip())
        if "metrics_token" not in rest:
            rest["metrics_token"] = os.environ.get("HOINGHI_METRICS_TOKEN") or None
        if not rest.get("trusted_proxies") and os.environ.get("HOINGHI_TRUSTED_PROXIES"):
            rest["trusted_proxies"] = tuple(
                a.strip() for a in os.environ["HOINGHI_TRUSTED_PROXIES"].split(",") if a.strip())
        if rest.get("vosk_model") is None and os.environ.get("HOINGHI_VOSK_MODEL"):
            rest["vosk_model"] = Path(os.environ["HOINGHI_VOSK_MODEL"])
        if "asr_max_streams" not in rest and os.environ.get("HOINGHI_ASR_MAX_STREAMS", "").strip():
            raw = os.environ["HOINGHI_ASR_MAX_STREAMS"].strip()
            if not raw.isdigit() or not 1 <= int(raw) <= 1000:
                raise ValueError(f"HOINGHI_ASR_MAX_STREAMS: a whole number from 1 to 1000, not {raw!r}")
            rest["asr_max_streams"] = int(raw)
        return cls(
            config_path=config_path or default_config_path(),
            data_dir=data_dir,
            database_url=database_url or os.environ.get("HOINGHI_DB") or sqlite_url(data_dir / "hoinghi.sqlite3"),
            **rest,  # type: ignore[arg-type]
        )

    @property
    def uses_tls(self) -> bool:
        """Browsers grant camera and microphone only to secure contexts; loopback is one."""
        return self.host not in LOOPBACK_HOSTS

    @property
    def browsers_use_https(self) -> bool:
        """Browsers reach this server over HTTPS: its own TLS, or a TLS-terminating proxy (a page
        off loopback must be a secure context for the camera, so a proxy in front speaks HTTPS)."""
        return self.uses_tls or bool(self.trusted_proxies)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.uses_tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"
