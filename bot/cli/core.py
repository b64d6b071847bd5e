"""Core subcommands: run, demo, check-config, db, config-docs."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Callable
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.cli.common import EXIT_CONFIG, EXIT_ERROR, describe_validation_error, run, settings_from
from config.checks import is_warning
from config.settings import (
    ConfigFileMissing,
    ConfigSyntaxError,
    Settings,
    load_settings,
    resolve_config_path,
)
from core.channel import Channel
from core.clock import Clock
from storage.db import Database, DatabaseUnavailable, safe_url

# Extra configuration checks contributed by feature modules: "module:function", each
# ``function(settings) -> list[str]`` returning problems in plain words; a ``config.checks.ConfigWarning``
# among them is printed without failing the check (the bot starts with it).
CONFIG_CHECKS: tuple[str, ...] = (
    "bot.cli.core:check_forms",
    "bot.cli.org:check_org",
    "bot.cli.manager:check_themes",
    "bot.cli.manager:check_rebate_formula",
    "bot.cli.manager:check_schedules",
    "bot.cli.wecom:check_wecom",
    "bot.cli.dingtalk:check_dingtalk",
    "speech.checks:check_speech",
    "domain.fonts:check_report_font",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="start the bot (console on the embedded defaults, or the configured platforms)",
        description="Start the bot. With no platform enabled this is the console: type messages as the "
        "current user; /help lists console commands (switch user, voice, photo, approvals, clock). "
        "With a non-interactive stdin every line is processed and the bot exits at end of input.",
    )
    p.add_argument(
        "--demo", action="store_true", help="seed the demo organisation first if the database is empty"
    )
    p.add_argument("--user", default="", help="console: act as this user (name or id) at start")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo", help="seed a demo organisation (manager, reps, product, finance), 12 hospitals, 9 new leads"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "check-config",
        help="validate the configuration, forms and theme files; list problems in plain words",
    )
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("db", help="database migrations")
    dbsub = p.add_subparsers(dest="db_command", metavar="<action>")
    up = dbsub.add_parser("upgrade", help="apply pending migrations (also done on start)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    cur = dbsub.add_parser("current", help="show the database's migration revision")
    cur.set_defaults(func=cmd_db_current)

    def db_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=db_help)

    p = sub.add_parser(
        "config-docs",
        help="regenerate docs/configuration.md and config/actionflow.example.toml from the settings models",
    )
    p.add_argument(
        "--check", action="store_true", help="only report whether they are up to date (exit 1 if not)"
    )
    p.set_defaults(func=cmd_config_docs)


# -- run ---------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    return run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import Application

    if settings.console_enabled:
        return await _run_console(settings, args)
    if args.demo:
        await _seed(settings)
    app = Application(settings)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"ActionFlow running on {', '.join(app.channels)}. Ctrl-C to stop.", file=sys.stderr)
    await stop.wait()
    await app.stop()
    return 0


async def _run_console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import Application
    from bot.logging import configure

    if not getattr(args, "log_level", None):
        # The conversation is on stdout; keep routine log lines from interleaving with it.
        configure("WARNING", settings.app.log_format)
    from bot.channels.console import ConsoleChannel
    from bot.console import run_console
    from core.clock import ManualClock

    clock = ManualClock()
    channel = ConsoleChannel(show_all=settings.console.show_alerts)
    others = [c for c in _platform_channels(settings, clock)]
    app = Application(settings, clock=clock, channels=[channel, *others], scheduler_realtime=False)
    await app.start()
    try:
        if args.demo:
            async with app.db.transaction() as session:
                from domain.demo import seed_demo

                created = await seed_demo(session, clock.now())
            if created:
                # Fresh demo data: start from now instead of sending last period's reports at once.
                await app.scheduler.skip_current_periods()
                print(
                    f"（已创建演示数据：{created['users']} 位同事，{created['customers']} 家客户，"
                    f"其中医院 {created['hospitals']} 家、新线索 "
                    f"{created['customers'] - created['hospitals']} 家）",
                    flush=True,
                )
        async with app.db.read() as session:
            from domain.demo import last_recorded_time

            resume_at = await last_recorded_time(session)
        if resume_at is not None and resume_at > clock.now():
            # The simulated clock was moved forward in an earlier run: go on from there.
            clock.set(resume_at)
            local = resume_at.astimezone(ZoneInfo(settings.app.timezone))
            print(f"（模拟时间接着上次的进度：{local:%Y-%m-%d %H:%M}）", flush=True)
        await run_console(app, channel, clock, user=args.user)
    finally:
        await app.stop()
    return 0


def _platform_channels(settings: Settings, clock: Clock) -> list[Channel]:
    from bot.channels import build_channels

    return [c for c in build_channels(settings, clock) if c.name != "console"]


# -- demo --------------------------------------------------------------------------
async def _seed(settings: Settings) -> dict[str, int]:
    from core.clock import SystemClock
    from domain.demo import seed_demo
    from storage.migrate import upgrade

    db = Database.from_settings(settings.database)
    try:
        await db.check()
        await upgrade(db)
        async with db.transaction() as session:
            return await seed_demo(session, SystemClock().now())
    finally:
        await db.dispose()


def cmd_demo(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        created = await _seed(settings)
        if not created:
            print("The database already has people in it; demo data was not added.")
        else:
            print(
                f"Demo data added: {created['users']} people, {created['customers']} customers "
                f"({created['hospitals']} hospitals and {created['customers'] - created['hospitals']} "
                f"new leads), {created['groups']} group targets. Try: actionflow run"
            )
        return 0

    return run(go())


# -- check-config ------------------------------------------------------------------
def check_forms(settings: Settings) -> list[str]:
    from handlers.forms.spec import FormsFileError, load_forms
    from handlers.registry import build_registry

    registry = build_registry()
    try:
        forms = load_forms(settings.forms.path, registry)
    except FormsFileError as exc:
        return [f"forms file {exc.path}: {p}" for p in exc.problems]
    problems = []
    for form in forms.values():
        if form.on_complete and form.on_complete not in registry.completers:
            problems.append(
                f"forms file {settings.forms.path}: form {form.name}: on_complete {form.on_complete!r} "
                f"is not a known action (known: {', '.join(sorted(registry.completers)) or 'none'})"
            )
    return problems


def _load_check(spec: str) -> Callable[[Settings], list[str]]:
    module, _, name = spec.partition(":")
    check: Callable[[Settings], list[str]] = getattr(importlib.import_module(module), name)
    return check


def _without(data: dict[str, object], locs: list[tuple[str | int, ...]]) -> dict[str, object]:
    """``data`` less the keys at ``locs`` (the values pydantic refused)."""
    import copy

    cleaned = copy.deepcopy(data)
    for loc in locs:
        node: object = cleaned
        for part in loc[:-1]:
            node = node.get(str(part)) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(str(loc[-1]), None)
    return cleaned


def _settings_despite(args: argparse.Namespace, exc: ValidationError) -> Settings | None:
    """Settings with the refused values left at their defaults, so the other checks still run."""
    from config.settings import check_toml_syntax

    path = resolve_config_path(getattr(args, "config", None))
    data = check_toml_syntax(path) if path is not None else {}
    locs = [tuple(e["loc"]) for e in exc.errors() if e["loc"]]
    try:
        return (
            load_settings(None, **_without(data, locs)) if path is None else _load_dict(_without(data, locs))
        )
    except ValidationError:
        return None


def _load_dict(data: dict[str, object]) -> Settings:
    from pydantic_settings import SettingsConfigDict

    class _Partial(Settings):
        model_config = SettingsConfigDict(toml_file=None)

    return _Partial(**data)  # type: ignore[arg-type]


def cmd_check_config(args: argparse.Namespace) -> int:
    path = resolve_config_path(getattr(args, "config", None))
    print(f"config file: {path if path else '(none: embedded defaults)'}")
    problems: list[str] = []
    try:
        settings: Settings | None = load_settings(getattr(args, "config", None))
    except ConfigFileMissing as exc:
        print(f"  - {exc}")
        return EXIT_CONFIG
    except ConfigSyntaxError as exc:
        print(f"error: {exc}")
        return EXIT_CONFIG
    except ValidationError as exc:
        problems += describe_validation_error(exc)
        settings = _settings_despite(args, exc)
    if settings is None:  # even with the refused values left out it does not load
        print(f"{len(problems)} problem(s):")
        for problem in problems:
            print(f"  - {problem}")
        return EXIT_CONFIG
    for spec in CONFIG_CHECKS:
        problems += _load_check(spec)(settings)
    channels = [
        n
        for n, on in (
            ("console", settings.console_enabled),
            ("dingtalk", settings.dingtalk.enabled),
            ("wecom", settings.wecom.enabled),
        )
        if on
    ]
    print(f"database: {safe_url(settings.database.url)}")
    print(f"channels: {', '.join(channels)}")
    warnings = [p for p in problems if is_warning(p)]
    errors = [p for p in problems if not is_warning(p)]
    if warnings:
        print(f"{len(warnings)} warning(s); the bot starts with these:")
        for warning in warnings:
            print(f"  - {warning}")
    if errors:
        print(f"{len(errors)} problem(s):")
        for problem in errors:
            print(f"  - {problem}")
        return EXIT_CONFIG
    print("OK" if not warnings else "OK, with the warnings above")
    return 0


# -- db ----------------------------------------------------------------------------
def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        from storage.migrate import current_revision, upgrade

        db = Database.from_settings(settings.database)
        try:
            await db.check()
            await upgrade(db, args.revision)
            print(f"database {safe_url(settings.database.url)} is at revision {await current_revision(db)}")
        finally:
            await db.dispose()
        return 0

    return run(go())


def cmd_db_current(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        from storage.migrate import current_revision, head_revision

        db = Database.from_settings(settings.database)
        try:
            await db.check()
            current = await current_revision(db)
        except DatabaseUnavailable:
            raise
        finally:
            await db.dispose()
        head = head_revision()
        state = "up to date" if current == head else f"behind (head is {head}; run `actionflow db upgrade`)"
        print(f"{current or '(empty)'}: {state}")
        return 0 if current == head else EXIT_ERROR

    return run(go())


# -- config-docs -------------------------------------------------------------------
def cmd_config_docs(args: argparse.Namespace) -> int:
    from config.docs import NotASourceTree, write

    try:
        stale = write(check=args.check)
    except NotASourceTree as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run `actionflow config-docs`)")
        return EXIT_ERROR if stale else 0
    for path in stale:
        print(f"wrote {path}")
    if not stale:
        print("already up to date")
    return 0
