"""Speech fixtures: the real Whisper base model (located, or assembled once into <repo>/models), one
transcriber for the whole session, the audio samples, and their reference texts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from config.settings import SpeechSettings
from speech.install import InstallError, install, is_installed
from speech.model import BASE_DIR_NAME
from speech.text import normalise
from speech.transcriber import WhisperTranscriber

REPO = Path(__file__).resolve().parents[2]
AUDIO = REPO / "tests" / "data" / "audio"


def references() -> dict[str, str]:
    rows = (AUDIO / "samples.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in rows if line.strip())


def cer(hypothesis: str, reference: str) -> float:
    """Character error rate over letters and digits (punctuation and spaces ignored)."""
    ref = normalise(reference)
    return Levenshtein.distance(normalise(hypothesis), ref) / len(ref)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The offline base model; assembled here (as `make test` does through scripts/setup.sh) if missing."""
    dest = REPO / "models" / BASE_DIR_NAME
    if not is_installed(dest):
        try:
            install(dest)
        except InstallError as exc:
            pytest.fail(f"the speech tests need the real model: {exc}")
    return dest


@pytest.fixture(scope="session")
def speech_settings(model_dir: Path) -> SpeechSettings:
    # Normal priority: developer machines run other work beside the tests; the lowered priority has its
    # own test (test_transcriber.py) and its effect is in the benchmark.
    return SpeechSettings(models_dir=model_dir.parent, worker_nice=0)


@pytest.fixture(scope="session")
def transcriber(speech_settings: SpeechSettings) -> Iterator[WhisperTranscriber]:
    """One loaded model for every speech test (loads are kept to a minimum)."""
    t = WhisperTranscriber(speech_settings)
    t.load()
    yield t
    t.close()


@pytest.fixture
def audio() -> Path:
    return AUDIO
