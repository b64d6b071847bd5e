"""Shared CLI plumbing: settings loading with plain-word errors, logging, running coroutines."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

from pydantic import ValidationError

from bot.imports import StartupError
from bot.logging import configure
from config.settings import ConfigFileMissing, Settings, load_settings
from core.redact import redact
from domain import limits
from storage.db import DatabaseUnavailable

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def describe_validation_error(exc: ValidationError) -> list[str]:
    """pydantic's errors in plain words: ``dingtalk.foo: unknown key``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(f"{where}: unknown key (check the spelling; see docs/configuration.md)")
        elif kind in ("value_error", "assertion_error") and not err["loc"]:
            msg = err["msg"].removeprefix("Value error, ")
            problems.extend(part.strip() for part in msg.split(";"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            shown = err.get("input")
            given = "" if isinstance(shown, dict) or shown is None else f" (got {shown!r})"
            if "secret" in where or "token" in where or "key" in where.rsplit(".", 1)[-1]:
                given = ""
            problems.append(f"{where}: {msg}{given}")
    return problems


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    print(f"error: {redact(message)}", file=sys.stderr)
    raise SystemExit(code)


def settings_from(args: argparse.Namespace) -> Settings:
    try:
        settings = load_settings(getattr(args, "config", None))
        limits.apply(settings.security)
    except ConfigFileMissing as exc:
        fail(str(exc), EXIT_CONFIG)
    except ValidationError as exc:
        lines = "\n".join(f"  - {p}" for p in describe_validation_error(exc))
        fail(f"the configuration has problems (run `actionflow check-config`):\n{lines}", EXIT_CONFIG)
    level = getattr(args, "log_level", None) or settings.app.log_level
    configure(level, settings.app.log_format)
    return settings


def run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(coro)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except StartupError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        return 130
