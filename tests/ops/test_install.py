"""Installing and running as a service: `actionflow init`, paths relative to ACTIONFLOW_HOME,
config-docs staying a developer command, and the Dockerfile's install script in a fresh virtualenv."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.cli.main import main
from config.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_init_writes_a_commented_config_an_env_template_and_the_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert main(["init", str(home)]) == 0
    config = home / "actionflow.toml"
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert data["app"]["data_dir"] == "data" and data["web"]["listen"] == "127.0.0.1:8090"
    assert "# [outbox]" in config.read_text(encoding="utf-8")  # every other key, commented
    env = home / "actionflow.env"
    assert "ACTIONFLOW_WECOM__SECRET=" in env.read_text(encoding="utf-8")
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    assert all((home / f).is_dir() for f in ("data", "models", "backups"))
    assert main(["init", str(home)]) == 1  # never overwrites silently
    assert "--force" in capsys.readouterr().err
    assert main(["--config", str(config), "check-config"]) == 0


def test_the_shipped_env_example_is_the_init_template() -> None:
    from bot.cli.init import ENV_TEMPLATE

    shipped = (ROOT / "deploy" / "actionflow.env.example").read_text(encoding="utf-8")
    assert shipped == ENV_TEMPLATE.format(home="/var/lib/actionflow")


def test_relative_paths_resolve_against_the_home_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    main(["init", str(home)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(home / "actionflow.toml")
    assert settings.app.data_dir == home / "data"
    assert settings.speech.models_dir == home / "models"
    assert settings.database.url == f"sqlite+aiosqlite:///{home / 'actionflow.db'}"
    other = tmp_path / "other-home"
    monkeypatch.setenv("ACTIONFLOW_HOME", str(other))
    settings = load_settings(home / "actionflow.toml")
    assert settings.app.data_dir == other / "data"
    assert settings.rebates.orders_dir == other / "data" / "orders"


def test_config_docs_refuses_to_write_outside_a_source_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from config import docs

    site = tmp_path / "site-packages"
    monkeypatch.setattr(docs, "ROOT", site)
    monkeypatch.setattr(docs, "EXAMPLE_PATH", site / "config" / "actionflow.example.toml")
    monkeypatch.setattr(docs, "DOCS_PATH", site / "docs" / "configuration.md")
    assert main(["config-docs"]) == 1
    assert "actionflow init" in capsys.readouterr().err
    assert not site.exists()


@pytest.mark.slow
def test_the_dockerfile_install_script_works_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install.sh"), str(venv), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "installed package complete" in done.stdout
    home = tmp_path / "home"
    run = subprocess.run(
        [str(venv / "bin" / "actionflow"), "init", str(home)], capture_output=True, text=True, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    model = subprocess.run(
        [
            str(venv / "bin" / "actionflow"),
            "--config",
            str(home / "actionflow.toml"),
            "speech",
            "install-model",
        ],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=600,
    )
    assert model.returncode == 0, model.stdout + model.stderr
    check = subprocess.run(
        [str(venv / "bin" / "actionflow"), "--config", str(home / "actionflow.toml"), "check-config"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # config-docs never writes into the installed package
    docs = subprocess.run(
        [str(venv / "bin" / "actionflow"), "config-docs"], capture_output=True, text=True, cwd="/"
    )
    assert docs.returncode == 1 and "not a source checkout" in docs.stderr
