"""Manager-loop subcommands: ``metrics``, ``demands cluster``, ``rebates run``; and their config checks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import EXIT_CONFIG, EXIT_ERROR, run, settings_from
from config.checks import ConfigWarning
from config.settings import Settings
from storage.db import Database


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "metrics",
        help="the three health metrics (action compliance, lead conversion, data freshness)",
        description="Compute the health metrics now, with the healthy thresholds from [metrics].",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("demands", help="demand clustering tools")
    dsub = p.add_subparsers(dest="demands_command", metavar="<action>")
    c = dsub.add_parser(
        "cluster",
        help="cluster demands from a JSON-lines file with the bot's engine",
        description='Reads JSON lines {"id", "text", "scenario"} (FILE, or - for stdin) and prints '
        '{"id", "cluster", "label"} lines, using [themes].path. Bad lines are reported and nothing '
        "is printed.",
    )
    c.add_argument("file", help="JSON-lines file, or - for standard input")
    c.set_defaults(func=cmd_demands_cluster)
    p.set_defaults(func=_usage(p))

    p = sub.add_parser("rebates", help="quarterly rebates from ERP orders")
    rsub = p.add_subparsers(dest="rebates_command", metavar="<action>")
    r = rsub.add_parser(
        "run",
        help="import orders and compute a quarter; prints the per-customer table",
        description="Import ERP orders (--orders FILE, else rebates.erp_url/erp_query, else every "
        "CSV/XLSX in rebates.orders_dir), then compute and store the quarter's rebates "
        "with rebates.formula. All or nothing: any malformed order row is reported with its line "
        "and nothing is changed. Re-running a quarter replaces its results. "
        "Finance gets a summary message (delivered by the running bot).",
    )
    r.add_argument("--period", required=True, help="quarter, e.g. 2026Q1")
    r.add_argument("--orders", metavar="FILE", help="a CSV or XLSX order export (see docs/manager.md)")
    r.add_argument("--no-notify", action="store_true", help="do not queue the finance summary message")
    r.set_defaults(func=cmd_rebates_run)
    p.set_defaults(func=_usage(p))


ORDERS_EPILOG = """\
Columns (first row; Chinese or English header names, any order; CSV in UTF-8 or GBK, or XLSX):
  订单号/order_no, 客户名称/customer, 订单日期/order_date (2026-11-03 or 2026/11/03; 11/3/2026 is
  refused as ambiguous), 金额/amount (yuan, not negative), 已签约/signed (是/否, default 是),
  终端医院/hospital (optional). Each signed order sets the customer's first and last deal dates and
  moves a lead or prospect to the won stage ([stages] in the forms file). See docs/manager.md.
"""


def register_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "orders",
        help="import signed orders (ERP export) from CSV/XLSX; records each customer's deals",
        description="Validate every row first and report each bad one with its line number (unknown "
        "customers, repeated order numbers, bad dates and amounts) in one round; import nothing from "
        "a file with errors. Re-importing an order number updates it.",
        epilog=ORDERS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="a .csv (UTF-8 or GBK) or .xlsx file")
    p.add_argument("--dry-run", action="store_true", help="validate and report only; write nothing")
    p.set_defaults(func=cmd_import_orders)


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def cmd_import_orders(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from domain import orders as erp

    path: Path = args.file
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return EXIT_ERROR

    async def go() -> int:
        from scheduler.rebate_job import import_into
        from storage.migrate import upgrade

        db = _database(settings)
        app = _CliApp(settings, db)
        rows, problems = erp.read_lenient(path)
        now = app.clock.now()
        try:
            await db.check()
            await upgrade(db)
            try:
                async with db.transaction() as session:
                    result = await import_into(
                        app, session, rows, now, problems=problems, source=f"cli:import orders {path.name}"
                    )
                    won = [c.name for c in result.moved_to_won]  # read while the session is open
                    if args.dry_run:
                        raise _DryRun
            except _DryRun:
                pass
            except erp.OrderProblems as exc:
                print(f"{len(exc.problems)} problem(s) in {path.name}; nothing imported:", file=sys.stderr)
                for problem in exc.problems:
                    print(f"  - {problem}", file=sys.stderr)
                return EXIT_ERROR
        finally:
            await db.dispose()
        verb = "would import" if args.dry_run else "imported"
        print(
            f"{'dry run: ' if args.dry_run else ''}{verb} {len(rows)} order(s) "
            f"({result.inserted} new, {result.updated} changed, {result.signed} signed); "
            f"deal dates changed for {len(result.deals)} customer(s), "
            f"{len(won)} moved to the won stage"
        )
        for name in won[:20]:
            print(f"  won: {name}")
        return 0

    return run(go())


def _usage(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


# -- checks ------------------------------------------------------------------------
def check_themes(settings: Settings) -> list[str]:
    from domain.themes import ThemesFileError, load_themes

    try:
        load_themes(settings.themes.path)
    except ThemesFileError as exc:
        return [f"themes file {exc.path}: {p}" for p in exc.problems]
    return []


def check_rebate_formula(settings: Settings) -> list[str]:
    from domain.rebate_formula import check

    return check(settings.rebates.formula)


def check_schedules(settings: Settings) -> list[str]:
    from scheduler.service import validate_cron

    problems = []
    alerts = settings.alerts
    for name in ("stale_scan_cron", "zombie_scan_cron", "demand_scan_cron", "key_person_scan_cron"):
        reason = validate_cron(getattr(alerts, name), settings.app.timezone)
        if reason:
            problems.append(f"alerts.{name}: not a valid crontab ({reason})")
    for audience in ("managers", "product", "finance"):
        if not alerts.routes.get(audience):
            problems.append(
                ConfigWarning(f"alerts.routes: no group for {audience!r}; its alerts would not be sent")
            )
    return problems


# -- helpers -----------------------------------------------------------------------
def _database(settings: Settings) -> Database:
    return Database.from_settings(settings.database)


class _CliApp:
    """What scheduler code needs, for one CLI run (no channels run; messages wait in the outbox)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        from bot.app import group_channels
        from core.clock import SystemClock
        from domain.notify import Notifier

        channels = tuple(
            name
            for name, on in (
                ("console", settings.console_enabled),
                ("dingtalk", settings.dingtalk.enabled),
                ("wecom", settings.wecom.enabled),
            )
            if on
        )
        self.settings = settings
        self.db = db
        self.clock = SystemClock()
        self.notifier = Notifier(channels, group_channels(settings))

    @property
    def services(self) -> _CliApp:
        return self


# -- metrics -----------------------------------------------------------------------
def cmd_metrics(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        from zoneinfo import ZoneInfo

        from core.clock import SystemClock
        from domain.digest_text import metrics_text
        from domain.metrics import compute
        from storage.migrate import upgrade

        db = _database(settings)
        try:
            await db.check()
            await upgrade(db)
            async with db.read() as session:
                result = await compute(session, SystemClock().now(), settings.metrics)
        finally:
            await db.dispose()
        if args.json:
            print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        else:
            print(metrics_text(result, ZoneInfo(settings.app.timezone)))
        return 0

    return run(go())


# -- demands cluster ---------------------------------------------------------------
def read_demands(lines: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    items, problems = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict) or "text" not in obj or not isinstance(obj.get("text"), str):
            problems.append(f'line {n}: needs an object with a "text" string')
            continue
        if not isinstance(obj.get("scenario", ""), str):
            problems.append(f'line {n}: "scenario" must be a string')
            continue
        items.append({"id": obj.get("id", n), "text": obj["text"], "scenario": obj.get("scenario", "")})
    return items, problems


def cmd_demands_cluster(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from domain.clustering import Clusterer, DemandItem
    from domain.themes import ThemesFileError, load_themes

    try:
        book = load_themes(settings.themes.path)
    except ThemesFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        raw = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    items, problems = read_demands(raw.splitlines())
    if problems:
        for problem in problems:
            print(f"error: {args.file} {problem}", file=sys.stderr)
        return EXIT_ERROR
    demands = [DemandItem(str(i["id"]), i["text"], i["scenario"]) for i in items]
    for item, assignment in zip(items, Clusterer(book).cluster(demands), strict=True):
        print(
            json.dumps(
                {"id": item["id"], "cluster": assignment.key, "label": assignment.label}, ensure_ascii=False
            )
        )
    return 0


# -- rebates run -------------------------------------------------------------------
def cmd_rebates_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from domain import orders as erp
    from domain.rebate_formula import FormulaError, parse_formula
    from domain.rebates import finance_summary, parse_period, table

    try:
        period = parse_period(args.period)
        parse_formula(settings.rebates.formula)
    except (ValueError, FormulaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    async def go() -> int:
        from scheduler.context import postman
        from scheduler.rebate_job import import_and_run, load_orders
        from storage.migrate import upgrade

        db = _database(settings)
        app = _CliApp(settings, db)
        try:
            await db.check()
            await upgrade(db)
            try:
                loaded = erp.read_lenient(Path(args.orders)) if args.orders else await load_orders(app)
                rows, problems = loaded or ([], [])
                source = f"cli:rebates run {Path(args.orders).name if args.orders else 'erp'}"
                result = await import_and_run(
                    app, rows, period.key, app.clock.now(), problems=problems, source=source
                )
            except erp.OrderProblems as exc:
                print(f"{len(exc.problems)} problem(s) in the orders; nothing was changed:", file=sys.stderr)
                for problem in exc.problems:
                    print(f"  - {problem}", file=sys.stderr)
                return EXIT_ERROR
            except FileNotFoundError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_ERROR
            print(table(result))
            if not args.no_notify:
                text = finance_summary(result, app.clock.now().date().isoformat())
                async with db.transaction() as session:
                    post = postman(
                        app, session, app.clock.now(), f"rebates-cli:{app.clock.now().isoformat()}"
                    )
                    first, _, rest = text.partition("\n")
                    if await post.to_route("finance", first, rest):
                        print(f"finance summary queued for group {settings.alerts.routes.get('finance')!r}")
        finally:
            await db.dispose()
        return 0

    return run(go())
