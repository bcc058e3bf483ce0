"""Load and validate `rooms.toml`: the province, its bridge points and meeting rooms.

A province's IT operator edits this file by hand, so every mistake must be reported
with the file, the key and the reason, before anything touches the database.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

LEVELS = ("province", "district", "commune")
POINT_ROLES = ("main", "end")
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TOKEN_HASH_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


class ConfigError(Exception):
    """A configuration mistake, located by file and key."""

    def __init__(self, path: Path | str, key: str, reason: str) -> None:
        super().__init__(f"{path}: {key}: {reason}")
        self.path = str(path)
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Province:
    id: str
    name: str
    agency: str


@dataclass(frozen=True)
class BridgePointConfig:
    id: str
    name: str
    level: str
    role: str
    token_hash: str | None
    address: str = ""


DEFAULT_THUMBNAILS = 6  # a hall's TV or a desktop; browsers show fewer on small screens
DEFAULT_LOUDEST = 3


@dataclass(frozen=True)
class RoomConfig:
    """A meeting room. Large meetings: each screen shows the speaker large, at most
    ``thumbnails`` other cameras small (fewer on a small screen or a poor link; the chair's
    and the ``pinned`` points' first, by default the room's main halls) and plays the
    ``loudest`` microphones; the roster still lists everyone."""

    id: str
    name: str
    points: tuple[str, ...]
    thumbnails: int = DEFAULT_THUMBNAILS
    loudest: int = DEFAULT_LOUDEST
    pinned: tuple[str, ...] | None = None  # point ids; None: the room's main halls


@dataclass(frozen=True)
class IceServerConfig:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class NetworkConfig:
    """How media reaches the SFU: ICE servers for clients, the address announced behind NAT."""

    ice_servers: tuple[IceServerConfig, ...] = ()
    public_address: str | None = None
    udp_ports: range | None = None  # the UDP ports media may use (a firewall's open range)


@dataclass(frozen=True)
class MailConfig:
    """The SMTP server invitations go out through (`[mail]`); without it nothing is sent."""

    host: str
    sender: str  # From: "Văn phòng UBND tỉnh <hoinghi@quangninh.gov.vn>"
    port: int = 587
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465) instead of STARTTLS
    user: str | None = None
    password_file: Path | None = None  # read when sending; relative paths from rooms.toml's folder
    link_base: str | None = None  # https://hoinghi.example.gov.vn for links in the mail
    retry_seconds: tuple[int, ...] = (30, 120, 600, 1800, 7200)  # waits before each new attempt


@dataclass(frozen=True)
class RoomsConfig:
    path: str
    province: Province
    points: tuple[BridgePointConfig, ...]
    rooms: tuple[RoomConfig, ...]
    network: NetworkConfig = field(default_factory=NetworkConfig)
    mail: MailConfig | None = None

    def point(self, point_id: str) -> BridgePointConfig | None:
        return next((p for p in self.points if p.id == point_id), None)

    def room(self, room_id: str) -> RoomConfig | None:
        return next((r for r in self.rooms if r.id == room_id), None)


def _identifier(value: str) -> str | None:
    if not _ID_PATTERN.match(value):
        return "must be lowercase letters, digits and '-' (at most 63), starting with a letter or digit"
    return None


def _between(low: int, high: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}, not {value}"

    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}, not {value!r}"

    return check


def _non_blank(value: str) -> str | None:
    return "must not be empty" if not value.strip() else None


def _token_hash(value: str) -> str | None:
    if _TOKEN_HASH_PATTERN.match(value):
        return None
    return "must be 'sha256:' followed by 64 hex digits (print one with: hoinghi point token ID)"


_PORT_RANGE = re.compile(r"^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$")


def _port_range_problem(value: str) -> str | None:
    match = _PORT_RANGE.match(value)
    if not match:
        return f"must look like \"40000-40999\", not {value!r}"
    first, last = int(match[1]), int(match[2])
    if not 1024 <= first <= last <= 65535:
        return "ports must lie within 1024-65535, the first not above the last"
    if last - first + 1 < 16:
        return "give at least 16 ports: each participant needs two, per network address"
    return None


def _port_range(value: str) -> range:
    match = _PORT_RANGE.match(value)
    assert match is not None  # validated by _port_range_problem
    return range(int(match[1]), int(match[2]) + 1)


@dataclass(frozen=True)
class _Field:
    type: type
    required: bool = True
    check: Callable[[Any], str | None] | None = None


_PROVINCE_FIELDS = {
    "id": _Field(str, check=_identifier),
    "name": _Field(str, check=_non_blank),
    "agency": _Field(str, check=_non_blank),
}
_POINT_FIELDS = {
    "id": _Field(str, check=_identifier),
    "name": _Field(str, check=_non_blank),
    "level": _Field(str, check=_one_of(LEVELS)),
    "role": _Field(str, check=_one_of(POINT_ROLES)),
    "token_hash": _Field(str, required=False, check=_token_hash),
    "address": _Field(str, required=False),
}
_ROOM_FIELDS = {
    "id": _Field(str, check=_identifier),
    "name": _Field(str, check=_non_blank),
    "points": _Field(list),
    "thumbnails": _Field(int, required=False, check=_between(0, 16)),
    "loudest": _Field(int, required=False, check=_between(1, 8)),
    "pinned": _Field(list, required=False),
}
_NETWORK_FIELDS = {
    "public_address": _Field(str, required=False, check=_non_blank),
    "udp_ports": _Field(str, required=False, check=_port_range_problem),
    "ice_servers": _Field(list, required=False),
}
_ICE_FIELDS = {
    "urls": _Field(list),
    "username": _Field(str, required=False),
    "credential": _Field(str, required=False),
}
def _port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "must be a port number between 1 and 65535"


def _mail_sender(value: str) -> str | None:
    return None if "@" in value else 'must be an address, e.g. "Văn phòng UBND tỉnh <hoinghi@example.gov.vn>"'


def _link_base(value: str) -> str | None:
    return None if value.startswith(("https://", "http://")) else "must start with https:// (or http://)"


_MAIL_FIELDS = {
    "host": _Field(str, check=_non_blank),
    "port": _Field(int, required=False, check=_port),
    "starttls": _Field(bool, required=False),
    "tls": _Field(bool, required=False),
    "user": _Field(str, required=False, check=_non_blank),
    "password_file": _Field(str, required=False, check=_non_blank),
    "sender": _Field(str, check=_mail_sender),
    "link_base": _Field(str, required=False, check=_link_base),
    "retry_seconds": _Field(list, required=False),
}
_TOP_LEVEL = {"province": dict, "points": list, "rooms": list, "network": dict, "mail": dict}
_TYPE_NAMES = {str: "a string", list: "an array", dict: "a table", int: "an integer", bool: "true or false"}


class _Reader:
    """Walks the parsed TOML and raises the first mistake with its dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path, key, reason)

    def table(self, raw: Any, key: str, fields: dict[str, _Field]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(key, "must be a table")
        for name in raw:
            if name not in fields:
                raise self.fail(f"{key}.{name}", f"unknown key (expected one of: {', '.join(fields)})")
        values: dict[str, Any] = {}
        for name, spec in fields.items():
            where = f"{key}.{name}"
            if name not in raw:
                if spec.required:
                    raise self.fail(where, "missing")
                values[name] = None
                continue
            value = raw[name]
            if not isinstance(value, spec.type) or (isinstance(value, bool) and spec.type is not bool):
                raise self.fail(where, f"must be {_TYPE_NAMES[spec.type]}, not {type(value).__name__}")
            if spec.check is not None and (problem := spec.check(value)):
                raise self.fail(where, problem)
            values[name] = value
        return values

    def strings(self, raw: list[Any], key: str) -> tuple[str, ...]:
        for index, item in enumerate(raw):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{index}]", f"must be a string, not {type(item).__name__}")
        return tuple(raw)

    def unique_ids(self, items: list[dict[str, Any]], key: str) -> None:
        first_index: dict[str, int] = {}
        for index, item in enumerate(items):
            if item["id"] in first_index:
                raise self.fail(
                    f"{key}[{index}].id",
                    f"duplicate id {item['id']!r} (first used at {key}[{first_index[item['id']]}])",
                )
            first_index[item["id"]] = index


def parse_rooms_config(text: str, path: Path | str = "rooms.toml") -> RoomsConfig:
    """Validate the text of a rooms.toml; raise ConfigError naming the first mistake."""
    path = Path(path)
    reader = _Reader(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "(syntax)", str(error)) from None
    for name in raw:
        if name not in _TOP_LEVEL:
            raise reader.fail(name, f"unknown key (expected one of: {', '.join(_TOP_LEVEL)})")
    for name in ("province", "points", "rooms"):
        if name not in raw:
            raise reader.fail(name, "missing")
    for name, kind in _TOP_LEVEL.items():
        if name in raw and not isinstance(raw[name], kind):
            raise reader.fail(name, f"must be {_TYPE_NAMES[kind]}")

    province = Province(**reader.table(raw["province"], "province", _PROVINCE_FIELDS))

    points_raw = [reader.table(p, f"points[{i}]", _POINT_FIELDS) for i, p in enumerate(raw["points"])]
    if not points_raw:
        raise reader.fail("points", "at least one bridge point is required")
    reader.unique_ids(points_raw, "points")
    if not any(p["role"] == "main" for p in points_raw):
        raise reader.fail("points", "at least one bridge point must have role = \"main\"")
    points = tuple(
        BridgePointConfig(
            id=p["id"], name=p["name"], level=p["level"], role=p["role"],
            token_hash=p["token_hash"], address=p["address"] or "",
        )
        for p in points_raw
    )

    rooms_raw = [reader.table(r, f"rooms[{i}]", _ROOM_FIELDS) for i, r in enumerate(raw["rooms"])]
    reader.unique_ids(rooms_raw, "rooms")
    point_ids = {p.id for p in points}
    rooms = []
    for index, room in enumerate(rooms_raw):
        members = reader.strings(room["points"], f"rooms[{index}].points")
        for member_index, member in enumerate(members):
            if member not in point_ids:
                raise reader.fail(f"rooms[{index}].points[{member_index}]", f"no bridge point has id {member!r}")
        pinned = None
        if room["pinned"] is not None:
            pinned = reader.strings(room["pinned"], f"rooms[{index}].pinned")
            for pin_index, point_id in enumerate(pinned):
                if point_id not in point_ids:
                    raise reader.fail(f"rooms[{index}].pinned[{pin_index}]", f"no bridge point has id {point_id!r}")
        rooms.append(RoomConfig(
            id=room["id"], name=room["name"], points=members,
            thumbnails=DEFAULT_THUMBNAILS if room["thumbnails"] is None else room["thumbnails"],
            loudest=DEFAULT_LOUDEST if room["loudest"] is None else room["loudest"], pinned=pinned))

    network = NetworkConfig()
    if "network" in raw:
        net = reader.table(raw["network"], "network", _NETWORK_FIELDS)
        servers = []
        for index, server in enumerate(net["ice_servers"] or []):
            key = f"network.ice_servers[{index}]"
            entry = reader.table(server, key, _ICE_FIELDS)
            urls = reader.strings(entry["urls"], f"{key}.urls")
            for url_index, url in enumerate(urls):
                if not url.startswith(("stun:", "turn:", "turns:")):
                    raise reader.fail(f"{key}.urls[{url_index}]", "must start with stun:, turn: or turns:")
            servers.append(IceServerConfig(urls=urls, username=entry["username"], credential=entry["credential"]))
        network = NetworkConfig(
            ice_servers=tuple(servers), public_address=net["public_address"],
            udp_ports=_port_range(net["udp_ports"]) if net["udp_ports"] else None,
        )

    mail = _mail(reader, raw["mail"], path) if "mail" in raw else None
    return RoomsConfig(path=str(path), province=province, points=points, rooms=tuple(rooms), network=network, mail=mail)


def _mail(reader: _Reader, raw: Any, path: Path) -> MailConfig:
    values = reader.table(raw, "mail", _MAIL_FIELDS)
    if values["tls"] and values["starttls"]:
        raise reader.fail("mail.starttls", "choose one: tls = true (port 465) or starttls = true (port 587)")
    retry = values["retry_seconds"]
    if retry is not None:
        for index, wait in enumerate(retry):
            if not isinstance(wait, int) or isinstance(wait, bool) or not 1 <= wait <= 86400:
                raise reader.fail(f"mail.retry_seconds[{index}]", "must be a whole number of seconds, 1 to 86400")
        if not retry:
            raise reader.fail("mail.retry_seconds", "give at least one wait")
    password_file = Path(values["password_file"]) if values["password_file"] else None
    if password_file is not None and not password_file.is_absolute():
        password_file = path.parent / password_file
    if values["password_file"] and not values["user"]:
        raise reader.fail("mail.user", "missing (a password_file needs the user it belongs to)")
    tls = bool(values["tls"])
    return MailConfig(
        host=values["host"], sender=values["sender"], port=values["port"] or (465 if tls else 587),
        starttls=not tls if values["starttls"] is None else values["starttls"], tls=tls, user=values["user"],
        password_file=password_file, link_base=(values["link_base"] or "").rstrip("/") or None,
        retry_seconds=tuple(retry) if retry else MailConfig.retry_seconds,
    )


def load_rooms_config(path: Path | str) -> RoomsConfig:
    """Read and validate a rooms.toml file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "file not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(path, "(file)", f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise ConfigError(path, "(file)", error.strerror or str(error)) from None
    return parse_rooms_config(text, path)
