"""Server time per board page at 10k customers and 1M activity rows, on SQLite and PostgreSQL.

    python -m bench.board [--customers 10000] [--activities 1000000] [--no-pg]

Bulk-loads customers (two decision-chain contacts each), progress updates (the activity stream), 30 days
of required deadlines and a thousand competitor analyses for 200 reps in 20 teams, then serves the real
board (bot/web/board) on a local port and times GET requests of a signed-in manager (a team of 10 reps)
and of an admin (everyone): median of 5 after one warm-up, measured at the client, so the figure
includes the HTTP round trip on localhost. The customer export (XLSX, every row) is timed once with the
process's peak RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy import insert, text

from bench.scans import NOW, drop_pg, pg_database
from bot.testing import make_settings
from core.clock import ManualClock
from domain.board import links
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    CompetitorAnalysis,
    Customer,
    CustomerStatus,
    Deadline,
    DeadlineStatus,
    KeyPerson,
    KeyPersonStatus,
    ProgressUpdate,
    ReviewStatus,
    User,
    UserRole,
    UserStatus,
)

REPS, TEAMS = 200, 20
BATCH = 10_000
STAGES = ("lead", "diagnosis", "proposal", "objection", "contract", "repurchase")


async def _insert(db: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    async with db.transaction() as s:
        await s.execute(insert(model), rows)


async def load(db: Database, customers: int, activities: int) -> None:
    rnd = random.Random(21)
    people: list[dict[str, Any]] = [
        {"name": "管理员", "team": "总部", "supervisor_id": None},
        *({"name": f"主管{t}", "team": f"{t}组", "supervisor_id": None} for t in range(TEAMS)),
        *(
            {"name": f"销售{i}", "team": f"{i % TEAMS}组", "supervisor_id": 2 + i % TEAMS}
            for i in range(REPS)
        ),
    ]
    base = {"status": UserStatus.ACTIVE, "region": "", "title": "", "phone": "", "preferred_channel": ""}
    await _insert(db, User, [{**base, **p, "created_at": NOW, "updated_at": NOW} for p in people])
    roles = [{"user_id": 1, "role": "admin"}]
    roles += [{"user_id": 2 + t, "role": "manager"} for t in range(TEAMS)]
    roles += [{"user_id": 2 + TEAMS + i, "role": "rep"} for i in range(REPS)]
    await _insert(db, UserRole, roles)
    first_rep = 2 + TEAMS
    for start in range(0, customers, BATCH):
        rows, persons = [], []
        for i in range(start, min(start + BATCH, customers)):
            hours = rnd.expovariate(1 / 24) if rnd.random() > 0.1 else 48 + rnd.random() * 900
            rows.append(
                {
                    "id": i + 1,
                    "name": f"客户{i}",
                    "normalized_name": f"客户{i}",
                    "kind": "三甲医院",
                    "grade": "",
                    "region": f"区域{i % 12}",
                    "owner_id": first_rep + i % REPS,
                    "shared": False,
                    "stage": STAGES[i % len(STAGES)],
                    "status": CustomerStatus.ACTIVE,
                    "profile_complete": True,
                    "preferences": "",
                    "is_valid_lead": True,
                    "lead_created_at": NOW - timedelta(days=rnd.random() * 30),
                    "first_order_at": None,
                    "last_deal_at": NOW - timedelta(days=rnd.random() * 200),
                    "last_update_at": NOW - timedelta(hours=hours),
                    "created_at": NOW - timedelta(days=300),
                    "updated_at": NOW,
                }
            )
            for k in range(2 if i % 5 else 1):
                persons.append(
                    {
                        "customer_id": i + 1,
                        "role_group": "采购科",
                        "name": f"联系人{k}",
                        "title": "",
                        "phone": "",
                        "last_contact_on": (NOW - timedelta(days=rnd.random() * 120)).date(),
                        "status": KeyPersonStatus.ACTIVE,
                        "replaced_by_id": None,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
        await _insert(db, Customer, rows)
        await _insert(db, KeyPerson, persons)
    for start in range(0, activities, BATCH):
        batch = []
        for _ in range(start, min(start + BATCH, activities)):
            cid = 1 + rnd.randrange(customers)
            batch.append(
                {
                    "customer_id": cid,
                    "rep_id": first_rep + (cid - 1) % REPS,
                    "visit_id": None,
                    "kind": "note",
                    "progress": "跟进",
                    "note": "",
                    "valid": True,
                    "created_at": NOW - timedelta(hours=rnd.random() * 24 * 365),
                }
            )
        await _insert(db, ProgressUpdate, batch)
    deadlines = [
        {
            "kind": "visit_report",
            "entity_type": "visit",
            "entity_id": n,
            "user_id": first_rep + n % REPS,
            "required": True,
            "due_at": NOW - timedelta(hours=rnd.random() * 24 * 30),
            "status": DeadlineStatus.DONE,
            "on_time": rnd.random() < 0.9,
            "created_at": NOW - timedelta(days=31),
        }
        for n in range(REPS * 30)
    ]
    await _insert(db, Deadline, deadlines)
    analyses = [
        {
            "customer_id": 1 + n,
            "rep_id": first_rep + n % REPS,
            "trigger": "rep",
            "trigger_text": "",
            "competitor": "美敦力",
            "price": "便宜 10%",
            "delivery_cycle": "4 周",
            "weaknesses": "售后慢",
            "status": ReviewStatus.PENDING_REVIEW if n % 3 else ReviewStatus.APPROVED,
            "review_comment": "",
            "created_at": NOW - timedelta(hours=n),
        }
        for n in range(min(1000, customers))
    ]
    await _insert(db, CompetitorAnalysis, analyses)
    if db.is_sqlite:
        async with db.transaction() as s:
            await s.execute(text("ANALYZE"))
    else:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))


def fake_bot(db: Database, tmp: Path) -> Any:
    settings = make_settings(tmp, web={"listen": "127.0.0.1:0"})
    return SimpleNamespace(
        settings=settings,
        db=db,
        clock=ManualClock(NOW),
        services=SimpleNamespace(tz=ZoneInfo(settings.app.timezone), extras={}),
        outbox=SimpleNamespace(wake=lambda: None),
    )


async def signed_in(http: aiohttp.ClientSession, url: str, db: Database, user_id: int) -> None:
    async with db.transaction() as s:
        token = await links.issue(s, now=NOW, user_id=user_id, ttl=timedelta(minutes=10))
    async with http.get(f"{url}/board/login?t={token}", allow_redirects=False) as resp:
        assert resp.status == 303, resp.status


async def timed(http: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    times, size = [], 0
    for i in range(6):
        t0 = time.perf_counter()
        async with http.get(url) as resp:
            body = await resp.read()
            assert resp.status == 200, (url, resp.status, body[:300])
        if i:
            times.append((time.perf_counter() - t0) * 1000)
        size = len(body)
    return statistics.median(times), size


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


async def sample_peak(stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        await asyncio.sleep(0.02)


async def bench(url: str, customers: int, activities: int) -> list[tuple[str, str, str]]:
    from bot.web.board import build_board

    db = Database(url)
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-board-") as tmp:
        try:
            await upgrade(db)
            t0 = time.perf_counter()
            await load(db, customers, activities)
            results.append(
                ("bulk load", f"{time.perf_counter() - t0:.0f} s", f"{customers + activities:,} rows")
            )
            app = web.Application()
            app.add_subapp("/board", build_board(fake_bot(db, Path(tmp))))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}"
            try:
                for who, uid in (("manager", 2), ("admin", 1)):
                    jar = aiohttp.CookieJar(unsafe=True)
                    async with aiohttp.ClientSession(cookie_jar=jar) as http:
                        await signed_in(http, base, db, uid)
                        pages = {
                            "overview": "/board/",
                            "customers": "/board/customers",
                            "customers, 超 48 小时未更新": "/board/customers?stale=1",
                            "customers, 决策链不全": "/board/customers?incomplete=1",
                            "customers, page 20": "/board/customers?page=20",
                            "a customer": "/board/customers/1",
                            "reviews": "/board/reviews",
                            "trial feedback": "/board/trials",
                        }
                        for name, path in pages.items():
                            ms, size = await timed(http, base + path)
                            results.append((f"{who}: {name}", f"{ms:.1f} ms", f"{size / 1024:.0f} KiB"))
                        if who == "admin":
                            before, peak, stop = rss_mb(), [0.0], asyncio.Event()
                            sampler = asyncio.create_task(sample_peak(stop, peak))
                            t0 = time.perf_counter()
                            async with http.get(base + "/board/customers.xlsx") as resp:
                                data = await resp.read()
                            elapsed = time.perf_counter() - t0
                            stop.set()
                            await sampler
                            results.append(
                                (
                                    f"admin: XLSX export, all {customers:,} customers",
                                    f"{elapsed * 1000:.0f} ms",
                                    f"{len(data) / 1024:.0f} KiB, RSS peak +{max(0.0, peak[0] - before):.0f} MiB",  # noqa: E501
                                )
                            )
            finally:
                await runner.cleanup()
        finally:
            await db.dispose()
    return results


def table(title: str, rows: list[tuple[str, str, str]]) -> None:
    print(f"\n### {title}\n")
    print("| page | server time (median of 5) | size |")
    print("|---|---:|---:|")
    for name, value, size in rows:
        print(f"| {name} | {value} | {size} |")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-board-db-") as tmp:
        rows = await bench(f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}", args.customers, args.activities)
        table(f"SQLite, {args.customers:,} customers, {args.activities:,} activity rows", rows)
    if args.no_pg:
        return
    made = await pg_database()
    if made is None:
        print("\nPostgreSQL not reachable at 127.0.0.1:5432; skipped.")
        return
    url, name = made
    try:
        rows = await bench(url, args.customers, args.activities)
        table(f"PostgreSQL, {args.customers:,} customers, {args.activities:,} activity rows", rows)
    finally:
        await drop_pg(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--no-pg", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
