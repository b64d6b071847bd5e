"""Settings: TOML + environment overrides, plain-word problems from check-config, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONFLOW_")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=120,
    )


def test_toml_then_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[app]\ntimezone = "UTC"\n[alerts]\nstale_hours = 24\n[dingtalk]\nvisit_process_codes = ["P1"]\n'
    )
    monkeypatch.setenv("ACTIONFLOW_ALERTS__STALE_HOURS", "36")
    monkeypatch.setenv("ACTIONFLOW_DINGTALK__APPROVAL_FIELDS__CUSTOMER", "医院名称")
    settings = load_settings(path)
    assert settings.app.timezone == "UTC"
    assert settings.alerts.stale_hours == 36
    assert settings.dingtalk.visit_process_codes == ["P1"]
    assert settings.dingtalk.approval_fields.customer == "医院名称"
    assert settings.dingtalk.approval_fields.start == "拜访开始时间"


def test_config_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.toml"
    path.write_text("[metrics]\nwindow_days = 14\n")
    monkeypatch.setenv("ACTIONFLOW_CONFIG", str(path))
    assert load_settings().metrics.window_days == 14


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    # No config file: relative paths resolve against the working directory (ACTIONFLOW_HOME unset).
    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path / 'actionflow.db'}"
    assert settings.app.data_dir == tmp_path / "data"
    assert settings.console_enabled


def test_unknown_keys_and_bad_values_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[app]\ntimezone = "Mars/Base"\n[alerts]\nstale_hourz = 3\n')
    with pytest.raises(ValidationError) as info:
        load_settings(path)
    locs = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    assert {"app.timezone", "alerts.stale_hourz"} <= locs


def test_check_config_lists_problems_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[dingtalk]\nenabled = true\nclient_id = "ding123"\n'
        '[wecom]\nenabled = true\ncorp_id = "ww1"\nagent_id = 1000002\nsecret = "TOPSECRET-WECOM"\n'
    )
    r = cli("--config", str(path), "check-config")
    assert r.returncode == 2, r.stdout + r.stderr
    out = r.stdout
    assert "dingtalk.enabled is true but dingtalk.client_secret is empty" in out
    assert "wecom.enabled is true but wecom.token is empty" in out
    assert "wecom.enabled is true but wecom.encoding_aes_key is empty" in out
    assert "TOPSECRET" not in out + r.stderr

    path.write_text('[alerts]\nstale_hourz = 3\nstale_hours = "soon"\n[database]\nurl = "mysql://x"\n')
    r = cli("--config", str(path), "check-config")
    assert r.returncode == 2
    assert "alerts.stale_hourz: unknown key" in r.stdout
    assert "alerts.stale_hours: Input should be a valid number" in r.stdout
    assert "database.url: must start with sqlite+aiosqlite:// or postgresql+asyncpg://" in r.stdout


def test_check_config_reports_a_broken_forms_file(tmp_path: Path) -> None:
    forms = tmp_path / "forms.toml"
    forms.write_text(
        '[forms.visit]\ntitle = "拜访"\n[[forms.visit.fields]]\nkey = "progress"\ntype = "choice"\nprompt = "?"\n'
    )
    path = tmp_path / "f.toml"
    path.write_text(f'[forms]\npath = "{forms}"\n')
    r = cli("--config", str(path), "check-config")
    assert r.returncode == 2
    assert "form visit, field progress" in r.stdout and "needs options" in r.stdout


def test_check_config_ok_and_secrets_masked(tmp_path: Path) -> None:
    forms = tmp_path / "forms.toml"
    forms.write_text(
        '[forms.note]\ntitle = "记录"\n[[forms.note.fields]]\nkey = "text"\ntype = "text"\nprompt = "?"\n'
    )
    path = tmp_path / "ok.toml"
    path.write_text(
        '[database]\nurl = "postgresql+asyncpg://bot:hunter2@db.example/actionflow"\n'
        f'[forms]\npath = "{forms}"\n'
    )
    r = cli("--config", str(path), "check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout and "hunter2" not in r.stdout and "bot:***@db.example" in r.stdout


def test_check_config_warns_about_alerts_that_have_no_group(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text('[alerts.routes]\nmanagers = "managers"\n')
    r = cli("--config", str(path), "check-config")
    assert r.returncode == 0, r.stdout + r.stderr  # the bot runs; those alerts are not sent
    assert "2 warning(s); the bot starts with these:" in r.stdout
    assert "alerts.routes: no group for 'product'; its alerts would not be sent" in r.stdout
    path.write_text('[alerts.routes]\nmanagers = "managers"\n[app]\nlog_level = "LOUD"\n')
    r = cli("--config", str(path), "check-config")
    assert r.returncode == 2 and "1 problem(s):" in r.stdout and "app.log_level" in r.stdout


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    r = cli("--config", str(tmp_path / "nope.toml"), "check-config")
    assert r.returncode == 2 and "config file not found" in r.stdout


def test_help_explains_each_command() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for command in ("run", "demo", "check-config", "db", "config-docs"):
        assert command in r.stdout


def test_generated_config_docs_are_current() -> None:
    from config.docs import write

    stale = write(check=True)
    assert stale == [], f"run `actionflow config-docs` to regenerate: {stale}"
