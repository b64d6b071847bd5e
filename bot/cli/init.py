"""``actionflow init DIR``: a home for one installation (config, env template, data folders)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import EXIT_ERROR

ENV_TEMPLATE = """\
# ActionFlow secrets and per-machine settings (read by systemd's EnvironmentFile= and by
# docker compose's env_file:). Every ACTIONFLOW_<SECTION>__<KEY> overrides actionflow.toml.
# Keep this file readable by the bot's user only (chmod 600).

# Relative paths in actionflow.toml resolve against this folder.
ACTIONFLOW_HOME={home}
ACTIONFLOW_CONFIG={home}/actionflow.toml

# PostgreSQL for more than one instance (SQLite in {home}/actionflow.db otherwise):
# ACTIONFLOW_DATABASE__URL=postgresql+asyncpg://actionflow:CHANGE-ME@127.0.0.1:5432/actionflow

# DingTalk (钉钉) app credentials:
# ACTIONFLOW_DINGTALK__ENABLED=true
# ACTIONFLOW_DINGTALK__CLIENT_ID=
# ACTIONFLOW_DINGTALK__CLIENT_SECRET=

# WeCom (企业微信) self-built app:
# ACTIONFLOW_WECOM__ENABLED=true
# ACTIONFLOW_WECOM__CORP_ID=
# ACTIONFLOW_WECOM__AGENT_ID=
# ACTIONFLOW_WECOM__SECRET=
# ACTIONFLOW_WECOM__TOKEN=
# ACTIONFLOW_WECOM__ENCODING_AES_KEY=
"""

CONFIG_HEAD = """\
# ActionFlow configuration for this installation (written by `actionflow init`).
# Relative paths below resolve against ACTIONFLOW_HOME (default: this file's folder).
# Secrets belong in actionflow.env, not here. Check it with: actionflow check-config

[app]
data_dir = "data"

[database]
url = "sqlite+aiosqlite:///actionflow.db"

[speech]
models_dir = "models"

[web]
# /healthz and /metrics (and the board) listen here; put a TLS reverse proxy in front (docs/deploy.md).
listen = "127.0.0.1:8090"

# ---------------------------------------------------------------------------------------------------
# Every other setting, with its default (uncomment to change):
"""

FOLDERS = ("data", "models", "backups")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create a home folder for one installation: a commented config, an env template, data folders",
        description="Writes DIR/actionflow.toml (the settings that matter first, then every other key "
        "commented with its default), DIR/actionflow.env (the secrets, commented) and the data, models "
        "and backups folders. Refuses to overwrite an existing actionflow.toml unless --force.",
    )
    p.add_argument("dir", type=Path, help="the installation's home folder (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite actionflow.toml and actionflow.env")
    p.set_defaults(func=cmd_init)


def _example_rest() -> str:
    from config.docs import render_example

    lines = render_example().splitlines()
    body = [line for line in lines if not (line.startswith("# ") and "config-docs" in line)]
    # The keys set above stay active there; the example repeats them commented, which TOML allows.
    return "\n".join(body).split("\n\n", 1)[-1] + "\n"


def cmd_init(args: argparse.Namespace) -> int:
    home: Path = args.dir.expanduser().resolve()
    config = home / "actionflow.toml"
    if config.exists() and not args.force:
        print(f"error: {config} exists; use --force to overwrite it", file=sys.stderr)
        return EXIT_ERROR
    home.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        (home / folder).mkdir(exist_ok=True)
    config.write_text(CONFIG_HEAD + "\n" + _commented(_example_rest()), encoding="utf-8")
    env = home / "actionflow.env"
    env.write_text(ENV_TEMPLATE.format(home=home), encoding="utf-8")
    env.chmod(0o600)
    print(f"wrote {config}")
    print(f"wrote {env} (secrets go here; readable by you only)")
    print(f"folders: {', '.join(str(home / f) for f in FOLDERS)}")
    print(f"next: edit them, then `actionflow --config {config} check-config`")
    return 0


def _commented(text: str) -> str:
    """Section headers of the example commented too, so they do not reopen the tables set above."""
    out = []
    for line in text.splitlines():
        out.append(f"# {line}" if line.startswith("[") else line)
    return "\n".join(out) + "\n"
