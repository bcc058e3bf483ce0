"""The real libvosk on the tiny model the suite writes itself."""
from __future__ import annotations

from pathlib import Path

import pytest
import vosk

from transcription.tiny_model import write_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> vosk.Model:
    """Loaded in the test's own process, for the recogniser on its own (the pipeline's worker loads its own)."""
    vosk.SetLogLevel(-1)
    return vosk.Model(str(tiny_model_dir))
