"""rooms.toml validation: every mistake names the file, the key and the reason."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from meetings.config import ConfigError, load_rooms_config, parse_rooms_config
from tests.conftest import SAMPLE_ROOMS

GOOD = SAMPLE_ROOMS.read_text(encoding="utf-8")


def test_sample_province_loads() -> None:
    config = load_rooms_config(SAMPLE_ROOMS)
    assert config.province.name == "Tỉnh Quảng Ninh"
    assert {p.level for p in config.points} == {"province", "district", "commune"}
    assert [p.id for p in config.points if p.role == "main"] == ["ubnd-tinh", "tinh-uy"]
    assert all(point_id in {p.id for p in config.points} for room in config.rooms for point_id in room.points)
    # large meetings: the sample's first room keeps the defaults, the second pins its own hall
    assert (config.rooms[0].thumbnails, config.rooms[0].loudest, config.rooms[0].pinned) == (6, 3, None)
    assert (config.rooms[1].thumbnails, config.rooms[1].pinned) == (4, ("tinh-uy",))


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_rooms_config(text, "BAD.toml")
    return caught.value


@pytest.mark.parametrize(
    ("mutation", "key", "reason"),
    [
        (lambda t: t.replace('id = "tinh-uy"', 'id = "ubnd-tinh"'), "points[1].id", "duplicate id 'ubnd-tinh'"),
        (lambda t: t.replace('level = "commune"', 'level = "huyen"', 1), "points[3].level", "must be one of"),
        (lambda t: t.replace('role = "end"', 'role = "end"\ncolor = "red"', 1), "points[2].color", "unknown key"),
        (lambda t: t.replace('name = "Hội trường Tỉnh ủy"\n', ""), "points[1].name", "missing"),
        (lambda t: t.replace('id = "quang-ninh"', "id = 42"), "province.id", "must be a string, not int"),
        (lambda t: t.replace('"xa-ba-che", "dac-khu-van-don"]', '"xa-ba-che", "khong-co"]', 1), "rooms[0].points[5]", "no bridge point has id 'khong-co'"),
        (lambda t: t.replace('role = "main"', 'role = "main"\ntoken_hash = "abc"', 1), "points[0].token_hash", "sha256:"),
        (lambda t: t.replace("[province]", "[provinces]"), "provinces", "unknown key"),
        (lambda t: t.replace('role = "main"', 'role = "end"'), "points", "at least one bridge point must have role"),
        (lambda t: t + "\n[[points]\n", "(syntax)", ""),
        (lambda t: t.replace('id = "phuong-ha-long"', 'id = "Phường Hạ Long"'), "points[3].id", "lowercase"),
        (lambda t: t + '\n[network]\nudp_ports = "40000-39000"\n', "network.udp_ports", "first not above the last"),
        (lambda t: t + '\n[network]\nudp_ports = "40000:41000"\n', "network.udp_ports", "must look like"),
        (lambda t: t + '\n[network]\nudp_ports = "40000-40003"\n', "network.udp_ports", "at least 16 ports"),
        (lambda t: t.replace('name = "Phòng họp trực tuyến UBND tỉnh"', 'name = "Phòng họp trực tuyến UBND tỉnh"\nthumbnails = 40'), "rooms[0].thumbnails", "between 0 and 16"),
        (lambda t: t.replace('name = "Phòng họp trực tuyến UBND tỉnh"', 'name = "Phòng họp trực tuyến UBND tỉnh"\nloudest = 0'), "rooms[0].loudest", "between 1 and 8"),
        (lambda t: t.replace('name = "Phòng họp trực tuyến UBND tỉnh"', 'name = "Phòng họp trực tuyến UBND tỉnh"\npinned = ["tinh-uy", "khong-co"]'), "rooms[0].pinned[1]", "no bridge point has id 'khong-co'"),
    ],
    ids=["duplicate-id", "bad-level", "unknown-key", "missing-field", "mistyped", "unknown-point-ref",
         "bad-token-hash", "unknown-section", "no-main-point", "syntax", "bad-id",
         "reversed-ports", "port-syntax", "too-few-ports", "too-many-thumbnails", "no-loudest",
         "unknown-pinned"],
)
def test_mistakes_are_located(mutation, key: str, reason: str) -> None:
    bad = mutation(GOOD)
    assert bad != GOOD, "the mutation must change the sample"
    error = _error(bad)
    assert error.key == key
    assert reason in error.reason
    assert str(error).startswith("BAD.toml: ")


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_rooms_config(tmp_path / "none.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[province]\nname = 'Qu\xe1ng'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_rooms_config(latin)


def test_serve_with_bad_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "BAD.toml"
    bad.write_text(GOOD.replace('id = "tinh-uy"', 'id = "ubnd-tinh"'), encoding="utf-8")
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--config", str(bad), "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "BAD.toml" in lines[0] and "points[1].id" in lines[0] and "duplicate id" in lines[0]
    assert not data_dir.exists(), "a bad configuration must not create or touch the database"


def test_network_section() -> None:
    text = GOOD + '''
[network]
public_address = "203.0.113.10"
udp_ports = " 40000 - 40999 "
[[network.ice_servers]]
urls = ["turn:turn.example.gov.vn:3478"]
username = "hoinghi"
credential = "bi-mat"
'''
    network = parse_rooms_config(text).network
    assert network.udp_ports == range(40000, 41000)
    assert network.public_address == "203.0.113.10"
    assert network.ice_servers[0].urls == ("turn:turn.example.gov.vn:3478",)


_MAIL = '\n[mail]\nhost = "smtp.quangninh.gov.vn"\nsender = "Văn phòng UBND tỉnh <hoinghi@quangninh.gov.vn>"\n'


def test_mail_section_defaults_and_paths() -> None:
    base = SAMPLE_ROOMS.read_text(encoding="utf-8")
    assert parse_rooms_config(base).mail is None  # no [mail]: nothing is sent
    mail = parse_rooms_config(base + _MAIL + 'user = "hoinghi"\npassword_file = "smtp.pw"\n', "/etc/hoinghi/rooms.toml").mail
    assert (mail.port, mail.starttls, mail.tls) == (587, True, False)
    assert str(mail.password_file) == "/etc/hoinghi/smtp.pw"  # relative to rooms.toml
    implicit = parse_rooms_config(base + _MAIL + "tls = true\n").mail
    assert (implicit.port, implicit.starttls) == (465, False)


@pytest.mark.parametrize("extra, key, reason", [
    ("port = 70000\n", "mail.port", "between 1 and 65535"),
    ("starttls = 1\n", "mail.starttls", "true or false"),
    ("tls = true\nstarttls = true\n", "mail.starttls", "choose one"),
    ("retry_seconds = [30, 0]\n", "mail.retry_seconds[1]", "1 to 86400"),
    ('password_file = "pw"\n', "mail.user", "missing"),
    ("smtp = 1\n", "mail.smtp", "unknown key"),
])
def test_mail_mistakes_are_located(extra: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_rooms_config(SAMPLE_ROOMS.read_text(encoding="utf-8") + _MAIL + extra)
    assert raised.value.key == key and reason in raised.value.reason
