"""A broken import of the project's own code fails the start with its name; only a named optional
third-party package may be missing, with a warning."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from bot.imports import StartupError, import_module
from bot.testing import BotHarness

VOICE_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "voice_sample.amr"


@pytest.fixture
def project_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module that imports a third-party package which is not installed."""
    (tmp_path / "af_feature_probe.py").write_text("import af_not_installed_pkg\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "af_feature_probe", raising=False)
    return "af_feature_probe"


def test_missing_optional_third_party_is_a_warning(
    project_module: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.imports"):
        module = import_module(project_module, optional={"af_not_installed_pkg"}, purpose="the probe")
    assert module is None
    assert "af_not_installed_pkg" in caplog.text and "the probe is off" in caplog.text


def test_missing_module_not_named_optional_fails(project_module: str) -> None:
    with pytest.raises(StartupError, match=r"cannot import af_feature_probe .*af_not_installed_pkg"):
        import_module(project_module, optional={"faster_whisper"})


async def test_broken_jobs_module_fails_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: `except ImportError: return` started the bot with no scheduled job at all.
    monkeypatch.setitem(sys.modules, "scheduler.jobs", None)  # importing it now raises ImportError
    harness = BotHarness(tmp_path)
    with pytest.raises(StartupError, match=r"scheduler\.jobs"):
        await harness.app.start()
    await harness.app.stop()


async def test_broken_speech_module_fails_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "speech.service", None)
    harness = BotHarness(tmp_path, jobs=False)
    with pytest.raises(StartupError, match=r"speech\.service"):
        await harness.app.start()
    await harness.app.stop()


async def test_without_the_speech_packages_the_ledger_still_keeps_platform_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """PyAV (an optional speech package) missing: no transcription, but a note with the platform's
    recognition is still kept as a quote (docs/speech.md), so the ledger is there."""
    from speech.ledger import QuoteLedger

    for name in ("speech.service", "speech.transcriber", "speech.audio"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "av", None)  # importing it now raises ImportError
    with caplog.at_level(logging.WARNING, logger="bot.imports"):
        async with BotHarness(tmp_path, jobs=False) as bot:
            assert bot.app.dispatcher.transcriber is None
            assert isinstance(bot.app.services.quotes, QuoteLedger)
            await bot.add_user("wanglei", "王磊")
            replies = await bot.voice("wanglei", VOICE_SAMPLE, recognition="客户说交付太慢")
    assert replies == ["收到语音（平台识别）：“客户说交付太慢”。如需记录客户原话，请在需求确认单中发送。"]
    assert "optional module av is not installed" in caplog.text
