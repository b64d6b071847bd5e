"""The operator's command line: check-config's one-line syntax errors and one-run problem lists,
descriptions on every subcommand, --version, quiet migrations."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import _describe_all, build_parser, main
from bot.version import actionflow_version


def test_a_toml_syntax_error_is_one_plain_line_with_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "actionflow.toml"
    cfg.write_text('[app]\nlog_level = "INFO"\n[outbox\nmax_attempts = 3\n', encoding="utf-8")
    assert main(["--config", str(cfg), "check-config"]) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"{cfg}:3:8: TOML syntax error: Expected ']' at the end of a table declaration" in text
    assert "Traceback" not in text
    assert main(["--config", str(cfg), "status"]) == 2  # every command says the same, in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {cfg}:3:8: TOML syntax error: Expected ']' at the end of a table declaration"]


def test_check_config_lists_every_problem_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "actionflow.toml"
    cfg.write_text(
        '[app]\nlog_level = "LOUD"\n[outbox]\nmax_attempts = 0\n[forms]\npath = "/nonexistent/forms.toml"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(cfg), "check-config"]) == 2
    out = capsys.readouterr().out
    assert "3 problem(s):" in out
    assert "app.log_level" in out and "outbox.max_attempts" in out and "/nonexistent/forms.toml" in out


def _subcommands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((f"{prefix}{name}", sub))
                found += _subcommands(sub, f"{prefix}{name} ")
    return found


def test_every_subcommand_has_a_description() -> None:
    parser = build_parser()
    _describe_all(parser)
    subs = _subcommands(parser)
    assert len(subs) > 20
    missing = [name for name, sub in subs if not (sub.description or "").strip()]
    assert missing == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"actionflow {actionflow_version()}"
    assert actionflow_version() != "0+unknown"


def test_db_upgrade_prints_no_alembic_info_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "actionflow.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "a.db"}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "--config", str(cfg), "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "alembic" not in (done.stdout + done.stderr).lower()
    assert "is at revision" in done.stdout
