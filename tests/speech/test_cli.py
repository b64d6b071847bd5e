"""`actionflow transcribe`, `actionflow audit verify`, `actionflow speech install-model` and the speech
configuration check, as an operator runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.cli.main import main
from speech.checks import check_speech
from storage.db import Database
from tests.speech.test_ledger import drop_guards, ledger_db

pytestmark = pytest.mark.slow


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> Path:
    monkeypatch.setenv("ACTIONFLOW_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("ACTIONFLOW_SPEECH__MODELS_DIR", str(model_dir.parent))
    monkeypatch.setenv("ACTIONFLOW_SPEECH__WORKER_NICE", "0")
    monkeypatch.setenv("ACTIONFLOW_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    return tmp_path


def test_transcribe_prints_each_file_and_fails_on_bad_ones(
    config: Path, audio: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = config / "empty.amr"
    empty.write_bytes(b"")
    code = main(
        [
            "transcribe",
            str(audio / "sample3.amr"),
            str(data_dir / "photo.jpg"),
            str(empty),
            str(audio / "english.wav"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{audio / 'sample3.amr'}: language zh") and "RTF" in lines[0]
    assert "三个星期" in lines[1]
    assert f"{data_dir / 'photo.jpg'}: cannot transcribe: 收到的文件不是可识别的语音" in out
    assert f"{empty}: cannot transcribe: 这条语音是空的" in out
    assert f"{audio / 'english.wav'}: language en" in out and "Tuesday" in out


def test_transcribe_names_the_setting_when_there_is_no_model(
    config: Path, monkeypatch: pytest.MonkeyPatch, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTIONFLOW_SPEECH__MODEL", str(config / "missing"))
    assert main(["transcribe", str(audio / "sample1.wav")]) == 2
    assert "speech.model" in capsys.readouterr().err


def test_audit_verify_passes_then_names_the_tampered_quote(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{config / 'bot.db'}"

    async def setup() -> None:
        db, _ = await ledger_db(url, quotes=3)
        await db.dispose()

    asyncio.run(setup())
    assert main(["audit", "verify"]) == 0
    assert "quote ledger OK: 3 quote(s) and 0 annotation(s) verified; head 3.0." in capsys.readouterr().out

    async def tamper() -> int:
        db = Database(url)
        try:
            await drop_guards(db)
            async with db.transaction() as s:
                await s.execute(text("UPDATE quotes SET transcript = '客户很满意' WHERE seq = 2"))
                return int((await s.execute(text("SELECT id FROM quotes WHERE seq = 2"))).scalar_one())
        finally:
            await db.dispose()

    quote_id = asyncio.run(tamper())
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at quote {quote_id} (seq 2): its contents do not match its hash" in out


def test_install_model_alias_is_idempotent(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speech", "install-model"]) == 0  # already assembled by the session fixture
    assert "already installed" in capsys.readouterr().out


def test_config_check_reports_a_missing_model_and_a_bad_compute_type(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.settings import load_settings

    assert check_speech(load_settings()) == []
    monkeypatch.setenv("ACTIONFLOW_SPEECH__MODEL", str(config / "missing"))
    monkeypatch.setenv("ACTIONFLOW_SPEECH__COMPUTE_TYPE", "float16")
    problems = check_speech(load_settings())
    assert any(p.startswith("speech.model:") and "install-model" in p for p in problems)
    assert any("speech.compute_type 'float16' is not supported on cpu" in p for p in problems)
    assert main(["check-config"]) == 2
    assert "speech.compute_type 'float16'" in capsys.readouterr().out
    # Without a model the bot still starts (notes kept with the platform's text): a warning, exit 0.
    monkeypatch.delenv("ACTIONFLOW_SPEECH__COMPUTE_TYPE")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "1 warning(s); the bot starts with these:\n  - speech.model: speech.model is" in out
    assert out.endswith("OK, with the warnings above\n")


def test_config_check_names_a_vocabulary_file_with_bad_lines(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import load_settings

    words = config / "words.txt"
    words.write_bytes("器械包\n".encode() + b"\xff\xfe\n" + "器械包\n".encode())
    monkeypatch.setenv("ACTIONFLOW_SPEECH__VOCABULARY_FILE", str(words))
    problems = check_speech(load_settings())
    assert (
        f"speech.vocabulary_file: vocabulary file {words}: 1 line(s) are not UTF-8 and were skipped"
        in problems
    )
    monkeypatch.setenv("ACTIONFLOW_SPEECH__VOCABULARY_FILE", str(config / "absent.txt"))
    assert any("cannot be read" in p for p in check_speech(load_settings()))


def test_word_list_warnings_do_not_keep_the_service_from_starting(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """deploy/actionflow.service runs check-config as ExecStartPre: what the bot runs with is printed
    and exits 0; only an error exits non-zero (and the warnings are still printed beside it)."""
    words = config / "words.txt"
    cases = {
        "1 duplicate line(s) ignored": "器械包\n\n   \n# 注释\n器械包\n".encode(),
        "1 line(s) are not UTF-8 and were skipped": "灭菌\n".encode() + b"\xff\xfe\n",
        "1 line(s) longer than 24 characters were skipped": ("灭菌\n" + "很" * 30 + "\n").encode(),
        "is larger than 2048 KB; read only that far": "".join(
            f"词条{i:06d}\n" for i in range(170_000)
        ).encode(),
    }
    monkeypatch.setenv("ACTIONFLOW_SPEECH__VOCABULARY_FILE", str(words))
    for warning, content in cases.items():
        words.write_bytes(content)
        assert main(["check-config"]) == 0, warning
        out = capsys.readouterr().out
        assert "1 warning(s); the bot starts with these:" in out and warning in out, out
        assert "problem(s)" not in out
    words.write_bytes("器械包\n\n\n灭菌\n".encode())  # empty lines alone: nothing to say
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.endswith("\nOK\n")
    monkeypatch.setenv("ACTIONFLOW_SPEECH__VOCABULARY_FILE", str(config / "absent.txt"))
    assert main(["check-config"]) == 0 and "cannot be read" in capsys.readouterr().out
    monkeypatch.setenv("ACTIONFLOW_SPEECH__LANGUAGE", "klingon")  # an error: the service must not start
    assert main(["check-config"]) == 2
    out = capsys.readouterr().out
    assert "1 warning(s)" in out and "1 problem(s):\n  - speech.language 'klingon'" in out
