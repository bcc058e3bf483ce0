"""`hoinghi model install|list` as a real process against a local HTTP server serving a generated zip."""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.ports import free_port
from transcription.tiny_model import write_tiny_model

NAME = "vosk-model-small-vn-0.4"


def hoinghi(*args: str, lang: str = "vi") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", "model", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, HOINGHI_LANG=lang))


def _zip(tmp_path: Path, tag: str) -> Path:
    model = write_tiny_model(tmp_path / f"src-{tag}" / NAME)
    (model / "README").write_text(f"tiny model {tag}\n")
    path = tmp_path / f"{tag}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for f in sorted(model.rglob("*")):
            archive.write(f, f.relative_to(model.parent).as_posix())
    return path


class ModelServer:
    """Serves model-list.json and the zip; `cut_after` bytes makes it hang up mid-download."""

    def __init__(self, zip_path: Path) -> None:
        self.zip = zip_path.read_bytes()
        self.md5 = hashlib.md5(self.zip).hexdigest()
        self.cut_after: int | None = None
        self.port = free_port()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/model-list.json":
                    body = json.dumps([{"name": NAME, "size": len(server.zip), "md5": server.md5}]).encode()
                elif self.path == f"/{NAME}.zip":
                    body = server.zip
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if server.cut_after is None else body[: server.cut_after])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ModelServer]:
    server = ModelServer(_zip(tmp_path, "good"))
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _leftovers(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "models").iterdir() if p.name.startswith("."))


def test_install_with_progress_then_list(tmp_path: Path, served: ModelServer) -> None:
    data = tmp_path / "data"
    result = hoinghi("install", "vi-small", "--data-dir", str(data), "--base-url", served.url)
    assert result.returncode == 0, result.stderr
    assert f"Đang tải {NAME}" in result.stderr and "100%" in result.stderr
    assert f"Đã cài mô hình nhận dạng giọng nói {NAME}" in result.stdout
    assert hashlib.sha256(served.zip).hexdigest() in result.stdout
    assert (data / "models" / NAME / "am" / "final.mdl").is_file()
    assert (data / "models" / "ACTIVE").read_text().strip() == NAME
    assert _leftovers(data) == []
    listing = hoinghi("list", "--data-dir", str(data), lang="en")
    assert listing.returncode == 0 and f"* {NAME}" in listing.stdout


def test_checksum_mismatch_is_rejected_and_keeps_the_previous_model(tmp_path: Path, served: ModelServer) -> None:
    data = tmp_path / "data"
    assert hoinghi("install", "vi-small", "--data-dir", str(data), "--base-url", served.url).returncode == 0
    before = (data / "models" / NAME / "README").read_text()
    served.zip = _zip(tmp_path, "tampered").read_bytes()  # the list still gives the good zip's MD5
    result = hoinghi("install", "vi-small", "--data-dir", str(data), "--base-url", served.url, lang="en")
    assert result.returncode == 2
    assert "checksum mismatch" in result.stderr or "the file has" in result.stderr, result.stderr
    wrong = hoinghi("install", "vi-small", "--data-dir", str(data), "--base-url", served.url, "--sha256", "0" * 64, lang="en")
    assert wrong.returncode == 2 and "SHA-256 checksum mismatch" in wrong.stderr
    assert (data / "models" / NAME / "README").read_text() == before
    assert _leftovers(data) == []


def test_an_interrupted_download_installs_nothing(tmp_path: Path, served: ModelServer) -> None:
    data = tmp_path / "data"
    served.cut_after = len(served.zip) // 2
    result = hoinghi("install", "vi-small", "--data-dir", str(data), "--base-url", served.url)
    assert result.returncode == 2
    assert "bị ngắt giữa chừng" in result.stderr or "thất bại" in result.stderr, result.stderr
    assert not (data / "models" / NAME).exists() and not (data / "models" / "ACTIVE").exists()
    assert _leftovers(data) == []


def test_from_a_file_works_offline_and_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    offline = f"http://127.0.0.1:{free_port()}"  # nothing listens: any network use would fail
    good = _zip(tmp_path, "good")
    result = hoinghi("install", "vi-small", "--from", str(good), "--data-dir", str(data), "--base-url", offline)
    assert result.returncode == 0, result.stderr
    assert (data / "models" / "ACTIVE").read_text().strip() == NAME
    broken = tmp_path / "broken.zip"
    broken.write_bytes(good.read_bytes()[:-200])
    not_model = tmp_path / "empty.zip"
    with zipfile.ZipFile(not_model, "w") as archive:
        archive.writestr("readme.txt", "không phải mô hình")
    for bad, message in ((broken, "the zip is damaged"), (not_model, "holds no Vosk model"),
                         (tmp_path / "missing.zip", "no file")):
        failed = hoinghi("install", "vi-small", "--from", str(bad), "--data-dir", str(data), lang="en")
        assert failed.returncode == 2 and message in failed.stderr, failed.stderr
    assert (data / "models" / NAME / "README").read_text() == "tiny model good\n"
    assert _leftovers(data) == []
    offline_download = hoinghi("install", "vi-small", "--data-dir", str(data), "--base-url", offline, lang="en")
    assert offline_download.returncode == 2 and "use --from FILE.zip" in offline_download.stderr
