"""Every third-party module the shipped packages import is installed by `./scripts/run`.

`scripts/run` installs only the runtime dependencies of pyproject.toml, while the test
suite runs with the test extras too; a module the product imports but that only a test
extra brings (numpy once did) passes every test and breaks the server on a fresh machine.
"""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("meetings", "sfu", "transcription", "web", "bridge", "clitext")


def _imported_top_modules(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def _runtime_closure(distribution: str) -> set[str]:
    """The distributions a plain `pip install hoinghi` brings: requirements without extras."""
    seen: set[str] = set()
    pending = [distribution]
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            pending.append(requirement.name)
            # An extra named on a runtime requirement (pyHanko[pkcs11]) is installed too.
            for extra in requirement.extras:
                for sub in metadata.requires(requirement.name) or []:
                    sub_req = Requirement(sub)
                    if sub_req.marker and sub_req.marker.evaluate({"extra": extra}):
                        pending.append(sub_req.name)
    return seen


def test_every_imported_module_comes_with_the_runtime_dependencies() -> None:
    installed = _runtime_closure("hoinghi")
    providers = metadata.packages_distributions()
    missing: dict[str, str] = {}
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in _imported_top_modules(path):
                if module in sys.stdlib_module_names or module in SHIPPED:
                    continue
                distributions = {canonicalize_name(d) for d in providers.get(module, [])}
                if not distributions:
                    missing.setdefault(module, f"{path.relative_to(ROOT)} (not installed at all)")
                elif not distributions & installed:
                    missing.setdefault(module, f"{path.relative_to(ROOT)} (from {sorted(distributions)})")
    assert not missing, f"imported by the product but not a runtime dependency: {missing}"
