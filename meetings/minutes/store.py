"""PDF files of the minutes, named by their SHA-256 in DATA_DIR/minutes/ (content-addressed:
a signature step writes a new file and never overwrites the one before)."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PdfStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, pdf: bytes) -> str:
        digest = hashlib.sha256(pdf).hexdigest()
        path = self.root / f"{digest}.pdf"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(pdf)
            os.replace(partial, path)  # readers never see half a file
        return digest

    def get(self, digest: str) -> bytes:
        if not SHA256.match(digest):
            raise ValueError(f"not a SHA-256: {digest!r}")
        return (self.root / f"{digest}.pdf").read_bytes()
