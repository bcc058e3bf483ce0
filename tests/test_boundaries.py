"""The module boundaries of docs/architecture.md, checked by walking every import statement."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

FORBIDDEN = {
    "meetings": {"aiohttp", "socketio", "aiortc", "vosk", "web", "sfu", "transcription"},
    "sfu": {"meetings", "web", "transcription", "socketio", "sqlalchemy"},
    "transcription": {"meetings", "web", "sfu", "socketio", "aiohttp", "aiortc"},
    "bridge": {"meetings", "web", "sfu", "transcription", "sqlalchemy", "vosk"},  # a client: the wire only
    "opuscodec": {"meetings", "web", "sfu", "transcription", "bridge", "vosk", "aiortc", "av"},  # libopus only
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_its_boundary(package: str) -> None:
    files = list((REPO / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    violations = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in files
        for name in imported_modules(path) & FORBIDDEN[package]
    }
    assert not violations, sorted(violations)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom aiohttp import web\nimport socketio.asyncio_server\n")
    assert imported_modules(bad) >= {"aiohttp", "socketio"}
