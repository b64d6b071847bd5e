"""`actionflow import customers FILE`: validated, all-or-nothing customer import (CSV or XLSX)."""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import EXIT_CONFIG, EXIT_ERROR, run, settings_from
from config.settings import Settings
from core.clock import SystemClock
from core.messages import Text
from domain.customer_import import (
    ImportFileError,
    ImportPlan,
    Options,
    OwnerDirectory,
    apply,
    plan,
    read_table,
)
from domain.notify import Notifier
from domain.profiles import MIN_KEY_PERSONS
from domain.twins import load_index
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, User

EPILOG = """\
Columns (first row; Chinese or English header names, any order):
  客户名称/name (required), 客户类型/kind, 客户等级/grade, 所在区域/region, 负责人/owner (name or
  platform id), 共享/shared (是/否), 决策者偏好/preferences, and for each key person N = 1, 2, …:
  关键人N角色组/kpN_role, 关键人N姓名/kpN_name, 关键人N职务/kpN_title,
  关键人N最近沟通日期/kpN_last_contact (2026-11-20), 关键人N电话/kpN_phone.
Customers already in the database (same name) are skipped. Example: docs/examples/customers.csv
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """No top-level subcommands; this module adds `import customers`."""


def register_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "customers",
        help="import customers and their decision chain from CSV/XLSX",
        description="Validate every row first and report each bad one with its line number; import "
        "nothing from a file with errors unless --skip-bad is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="a .csv (UTF-8 or GBK) or .xlsx file")
    p.add_argument("--skip-bad", action="store_true", help="import the good rows and skip the bad ones")
    p.add_argument("--owner", metavar="NAME", help="owner for rows whose 负责人 column is empty")
    p.add_argument(
        "--allow-similar",
        action="store_true",
        help="accept names that look like an existing customer's (e.g. 杭州一院 vs 杭州市第一人民医院)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and report only; write nothing")
    p.set_defaults(func=cmd_import_customers)


def _options(settings: Settings) -> Options:
    from handlers.forms.spec import load_forms
    from handlers.registry import build_registry

    form = load_forms(settings.forms.path, build_registry()).get("customer")
    if form is None:
        return Options()
    kinds: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    for f in form.fields:
        if f.key == "kind":
            kinds = tuple(f.options)
        elif f.key == "grade":
            grades = tuple(f.options)
        elif f.key == "key_persons":
            roles = next((tuple(s.options) for s in f.fields if s.key == "role_group"), ())
    return Options(kinds=kinds, grades=grades, role_groups=roles or Options().role_groups)


def _channels(settings: Settings) -> tuple[str, ...]:
    on = (
        ("dingtalk", settings.dingtalk.enabled),
        ("wecom", settings.wecom.enabled),
        ("console", settings.console_enabled),
    )
    return tuple(name for name, enabled in on if enabled)


def _print_plan(path: Path, result: ImportPlan) -> None:
    print(f"{path.name}: {result.total} row(s)")
    for problem in result.problems:
        print(f"  line {problem.line}: {problem.message}")
    for line, name in result.existing:
        print(f"  line {line}: {name} already exists; skipped")


async def import_customers(settings: Settings, args: argparse.Namespace) -> int:
    try:
        rows = read_table(args.file)
    except ImportFileError as exc:
        print(f"error: {exc}")
        return EXIT_ERROR
    clock = SystemClock()
    now = clock.now()
    today = now.astimezone(ZoneInfo(settings.app.timezone)).date()
    db = Database.from_settings(settings.database)
    try:
        await db.check()
        await upgrade(db)
        async with db.transaction() as session:
            users = list((await session.execute(select(User))).scalars())
            directory = OwnerDirectory(users)
            default_owner = None
            if args.owner:
                try:
                    default_owner = directory.find(args.owner)
                except ValueError as exc:
                    print(f"error: --owner: {exc}")
                    return EXIT_ERROR
            result = plan(
                rows,
                directory=directory,
                default_owner=default_owner,
                existing=await load_index(session),
                options=_options(settings),
                today=today,
                similar_threshold=settings.flows.duplicate_threshold,
                allow_similar=args.allow_similar,
            )
            _print_plan(args.file, result)
            bad = len(result.bad_lines)
            if bad and not args.skip_bad:
                print(
                    f"{bad} bad row(s); nothing imported. Fix them, or use --skip-bad to import the "
                    f"{len(result.rows)} good row(s)."
                )
                return EXIT_ERROR
            if args.dry_run:
                print(f"dry run: {len(result.rows)} customer(s) would be imported")
                return 0
            created = await apply(
                session,
                now=now,
                rows=result.rows,
                source=f"cli:import customers {args.file.name}",
                existing_aliases=result.existing_aliases,
            )
            await _remind_incomplete(session, settings, now, created)
    finally:
        await db.dispose()
    incomplete = sum(1 for c in created if not c.profile_complete)
    summary = f"imported {len(created)} customer(s)"
    if incomplete:
        summary += f" ({incomplete} incomplete: fewer than {MIN_KEY_PERSONS} key persons; owners reminded)"
    if bad:
        summary += f"; skipped {bad} bad row(s)"
    if result.existing:
        summary += f"; {len(result.existing)} already existed"
    print(summary)
    return 0


async def _remind_incomplete(
    session: AsyncSession, settings: Settings, now: datetime, created: list[Customer]
) -> None:
    """Each owner of an incomplete profile gets one message (delivered by the running bot's outbox)."""
    by_owner: dict[int, list[str]] = defaultdict(list)
    for customer in created:
        if not customer.profile_complete and customer.owner_id:
            by_owner[customer.owner_id].append(customer.name)
    notifier = Notifier(_channels(settings))
    for owner_id, names in by_owner.items():
        owner = await session.get(User, owner_id)
        if owner is None:
            continue
        shown = "、".join(names[:10]) + (f" 等 {len(names)} 家" if len(names) > 10 else "")
        text = (
            f"导入的客户中有 {len(names)} 家决策链不足 {MIN_KEY_PERSONS} 位关键人，"
            f"档案标记为不完整：{shown}。请回复「添加关键人 客户名称」补充。"
        )
        key = f"import-incomplete:{owner_id}:{now.isoformat()}"
        await notifier.to_user(session, now=now, user=owner, message=Text(text=text), key=key)


def cmd_import_customers(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        return run(import_customers(settings, args))
    except ValueError as exc:  # a broken forms file
        print(f"error: {exc}")
        return EXIT_CONFIG
