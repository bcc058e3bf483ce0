"""Vosk models on disk: which one is active, and installing one from the official zip.

Layout: DATA_DIR/models/<model name>/ (unpacked), DATA_DIR/models/ACTIVE (the name in use).
An install downloads (or takes `--from` a file already on disk), checks size and checksum,
unpacks into a temporary directory beside the target, checks it holds a model, and only
then renames it into place and switches ACTIVE: an error at any step leaves the previous
model as it was and no partial file behind.

Checksums: the official model list (model-list.json beside the zips, which the vosk Python
package also reads) gives each zip's size and MD5; an operator may give a SHA-256 instead.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

OFFICIAL_BASE_URL = "https://alphacephei.com/vosk/models"
CATALOGUE = {"vi-small": "vosk-model-small-vn-0.4", "vi": "vosk-model-vn-0.4"}
ACTIVE_FILE = "ACTIVE"
CHUNK = 1 << 16


class ModelError(Exception):
    """An install or look-up that failed; `code` picks the user-facing message, `detail` is data."""

    def __init__(self, code: str, **detail: object) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Expected:
    size: int | None
    md5: str | None
    sha256: str | None


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def is_model_dir(path: Path) -> bool:
    """The two layouts libvosk accepts (see vosk-api src/model.cc)."""
    v2 = (path / "am" / "final.mdl").is_file() and (path / "conf" / "model.conf").is_file()
    v1 = (path / "final.mdl").is_file() and (path / "mfcc.conf").is_file()
    return v2 or v1


def active_model(data_dir: Path) -> Path | None:
    marker = models_dir(data_dir) / ACTIVE_FILE
    if not marker.is_file():
        return None
    path = models_dir(data_dir) / marker.read_text(encoding="utf-8").strip()
    return path if is_model_dir(path) else None


def installed(data_dir: Path) -> list[tuple[str, int, bool]]:
    """(name, bytes on disk, active) of each unpacked model."""
    root = models_dir(data_dir)
    if not root.is_dir():
        return []
    current = active_model(data_dir)
    out = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and is_model_dir(p)):
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        out.append((path.name, size, current is not None and current.name == path.name))
    return out


def model_name(choice: str) -> str:
    if choice not in CATALOGUE:
        raise ModelError("unknown_model", choice=choice, known=", ".join(CATALOGUE))
    return CATALOGUE[choice]


def official_expectation(name: str, base_url: str, timeout: float = 20.0) -> Expected:
    url = f"{base_url}/model-list.json"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            listing = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ModelError("list_unreachable", url=url, reason=str(getattr(error, "reason", error))) from None
    for entry in listing if isinstance(listing, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            size, md5 = entry.get("size"), entry.get("md5")
            return Expected(int(size) if size else None, str(md5) if md5 else None, None)
    raise ModelError("not_in_list", name=name, url=url)


def download(url: str, target: BinaryIO, progress: Callable[[int, int | None], None], timeout: float = 60.0) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                target.write(chunk)
                done += len(chunk)
                progress(done, total)
            if total is not None and done < total:
                raise ModelError("interrupted", url=url, got=done, expected=total)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise ModelError("download_failed", url=url, reason=str(getattr(error, "reason", error))) from None


def _verify(path: Path, expected: Expected) -> str:
    """Check size and checksums; returns the SHA-256 (printed so an operator can record it)."""
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        raise ModelError("size_mismatch", got=size, expected=expected.size)
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    if expected.md5 is not None and md5.hexdigest() != expected.md5.lower():
        raise ModelError("checksum_mismatch", algorithm="MD5", got=md5.hexdigest(), expected=expected.md5)
    if expected.sha256 is not None and sha256.hexdigest() != expected.sha256.lower():
        raise ModelError("checksum_mismatch", algorithm="SHA-256", got=sha256.hexdigest(), expected=expected.sha256)
    return sha256.hexdigest()


def _unpack(zip_path: Path, into: Path) -> Path:
    """Unpack safely (no absolute paths or '..'); return the directory that holds the model."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.infolist():
                parts = PurePosixPath(member.filename).parts
                if member.filename.startswith("/") or ".." in parts:
                    raise ModelError("unsafe_zip", member=member.filename)
            archive.extractall(into)  # checks every member's CRC
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise ModelError("bad_zip", reason=str(error)) from None
    candidates = [into] + [p for p in into.iterdir() if p.is_dir()]
    for candidate in candidates:
        if is_model_dir(candidate):
            return candidate
    raise ModelError("not_a_model", zip=zip_path.name)


def _activate(data_dir: Path, name: str, unpacked: Path) -> Path:
    root = models_dir(data_dir)
    target = root / name
    old = None
    if target.exists():
        old = root / f".old-{name}-{os.getpid()}"
        os.replace(target, old)
    os.replace(unpacked, target)
    marker = root / f".{ACTIVE_FILE}.tmp"
    marker.write_text(name + "\n", encoding="utf-8")
    os.replace(marker, root / ACTIVE_FILE)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def install(
    data_dir: Path, choice: str, *, base_url: str = OFFICIAL_BASE_URL, from_file: Path | None = None,
    sha256: str | None = None, progress: Callable[[int, int | None], None] = lambda done, total: None,
) -> tuple[Path, str]:
    """Install a model; returns (model directory, SHA-256 of the zip)."""
    name = model_name(choice)
    root = models_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise ModelError("bad_sha256", value=sha256)
    work = Path(tempfile.mkdtemp(prefix=f".install-{name}-", dir=root))
    try:
        if from_file is not None:
            if not from_file.is_file():
                raise ModelError("no_such_file", path=str(from_file))
            zip_path, expected = from_file, Expected(None, None, sha256)
        else:
            expected = Expected(None, None, sha256) if sha256 else official_expectation(name, base_url)
            zip_path = work / f"{name}.zip"
            with zip_path.open("wb") as target:
                download(f"{base_url}/{name}.zip", target, progress)
        digest = _verify(zip_path, expected)
        unpacked = _unpack(zip_path, work / "unpacked")
        return _activate(data_dir, name, unpacked), digest
    finally:
        shutil.rmtree(work, ignore_errors=True)
