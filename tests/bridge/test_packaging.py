"""The agent's systemd unit and example configuration are valid as shipped."""
from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from bridge.cli import parser
from bridge.config import KEYS, _read_toml

BRIDGE = Path(__file__).resolve().parents[2] / "bridge"


def test_the_example_configuration_uses_only_known_keys() -> None:
    values = _read_toml(BRIDGE / "bridge.example.toml")
    assert set(values) <= set(KEYS) and {"server", "point", "token_file", "video", "audio"} <= set(values)


def test_the_systemd_unit_starts_the_agent_with_its_configuration() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(BRIDGE / "hoinghi-bridge.service")
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command[1:3] == ["bridge", "--config"] and unit["Service"]["Restart"] == "always"
    assert parser().parse_args(command[2:]).config == Path("/etc/hoinghi/bridge.toml")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
