"""The manager scans over 100k customers and 1M activity rows, on SQLite and PostgreSQL.

    python -m bench.scans [--customers 100000] [--activities 1000000] [--no-pg]

Bulk-loads with Core inserts (customers, progress updates, demands), then times the stale, zombie and
demand-frequency scans exactly as the scheduled jobs run them (median of 5 runs after one warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sized
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.demand_scan import cluster_counts
from domain.staleness import (
    StaleCustomer,
    ZombieCustomer,
    stale_counts,
    stale_customers,
    zombie_counts,
    zombie_customers,
)
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, CustomerStatus, Demand, DemandStatus, ProgressUpdate, User, UserStatus

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
THEMES = ["sterilization", "price", "delivery", "aftersales", "compliance", "training", "fit", "payment"]


async def load(db: Database, customers: int, activities: int, reps: int = 200) -> None:
    rnd = random.Random(7)
    async with db.transaction() as s:
        await s.execute(
            insert(User),
            [
                {
                    "name": f"rep{i}",
                    "status": UserStatus.ACTIVE,
                    "team": "",
                    "region": "",
                    "title": "",
                    "phone": "",
                    "preferred_channel": "",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(reps)
            ],
        )
    batch = 10_000
    for start in range(0, customers, batch):
        rows = []
        for i in range(start, min(start + batch, customers)):
            hours = rnd.expovariate(1 / 12) if rnd.random() > 0.05 else 48 + rnd.random() * 500  # ~5 % stale
            deal = None if rnd.random() < 0.2 else NOW - timedelta(days=rnd.random() * 200)
            rows.append(
                {
                    "name": f"客户{i}",
                    "normalized_name": f"客户{i}",
                    "kind": "",
                    "grade": "",
                    "region": "",
                    "owner_id": 1 + i % reps,
                    "shared": False,
                    "stage": "proposal",
                    "status": CustomerStatus.ACTIVE,
                    "profile_complete": True,
                    "preferences": "",
                    "is_valid_lead": True,
                    "lead_created_at": NOW - timedelta(days=300),
                    "first_order_at": None,
                    "last_deal_at": deal,
                    "last_update_at": NOW - timedelta(hours=hours),
                    "created_at": NOW - timedelta(days=300),
                    "updated_at": NOW,
                }
            )
        async with db.transaction() as s:
            await s.execute(insert(Customer), rows)
    for start in range(0, activities, batch):
        rows = [
            {
                "customer_id": 1 + rnd.randrange(customers),
                "rep_id": 1 + rnd.randrange(reps),
                "visit_id": None,
                "kind": "note",
                "progress": "",
                "note": "",
                "valid": True,
                "created_at": NOW - timedelta(hours=rnd.random() * 24 * 365),
            }
            for _ in range(start, min(start + batch, activities))
        ]
        async with db.transaction() as s:
            await s.execute(insert(ProgressUpdate), rows)
    demands = activities // 10
    for start in range(0, demands, batch):
        rows = [
            {
                "customer_id": 1 + rnd.randrange(customers),
                "rep_id": 1 + rnd.randrange(reps),
                "visit_id": None,
                "quote_id": None,
                "text": "需求",
                "scenario": "其他",
                "tried_solutions": "",
                "failure_reason": "",
                "status": DemandStatus.OPEN,
                "cluster_key": rnd.choice(THEMES),
                "cluster_label": "",
                "created_at": NOW - timedelta(hours=rnd.random() * 24 * 365),
            }
            for _ in range(start, min(start + batch, demands))
        ]
        async with db.transaction() as s:
            await s.execute(insert(Demand), rows)
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    else:
        async with db.transaction() as s:
            await s.execute(text("ANALYZE"))


async def timed(db: Database, fn: Callable[[AsyncSession], Awaitable[Sized]]) -> tuple[float, int]:
    times: list[float] = []
    n = 0
    for i in range(6):
        t0 = time.perf_counter()
        async with db.read() as s:
            n = len(await fn(s))
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), n


async def bench(url: str, customers: int, activities: int) -> list[tuple[str, float, int]]:
    db = Database(url)
    try:
        await upgrade(db)
        t0 = time.perf_counter()
        await load(db, customers, activities)
        load_s = time.perf_counter() - t0
        results = [("bulk load (s)", load_s, customers + activities + activities // 10)]
        results.append(("stale (48 h)", *await timed(db, lambda s: stale_customers(s, NOW, 48.0))))
        results.append(
            (
                "stale, per-stage override",
                *await timed(db, lambda s: stale_customers(s, NOW, 48.0, by_stage={"contract": 24.0})),
            )
        )
        results.append(("zombie (90 days)", *await timed(db, lambda s: zombie_customers(s, NOW, 90))))

        async def stale_job(s: AsyncSession) -> list[StaleCustomer]:
            counts = await stale_counts(s, NOW, 48.0)
            return await stale_customers(s, NOW, 48.0, per_owner=10) if counts else []

        async def zombie_job(s: AsyncSession) -> list[ZombieCustomer]:
            counts = await zombie_counts(s, NOW, 90)
            return await zombie_customers(s, NOW, 90, per_owner=10) if counts else []

        results.append(("stale as the job runs it (counts + first 10 per rep)", *await timed(db, stale_job)))
        results.append(
            ("zombie as the job runs it (counts + first 10 per rep)", *await timed(db, zombie_job))
        )
        results.append(
            (
                "demand frequency (7 days)",
                *await timed(db, lambda s: cluster_counts(s, NOW - timedelta(days=7), NOW)),
            )
        )
        return results
    finally:
        await db.dispose()


async def pg_database() -> tuple[str, str] | None:
    import asyncpg

    admin = "postgresql://postgres@127.0.0.1:5432/test"
    name = f"af_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(admin, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def drop_pg(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    async def go() -> None:
        tables = {}
        with tempfile.TemporaryDirectory() as tmp:
            tables["SQLite"] = await bench(
                f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.customers, args.activities
            )
        if not args.no_pg:
            pg = await pg_database()
            if pg is None:
                print("PostgreSQL not reachable: skipped")
            else:
                try:
                    tables["PostgreSQL"] = await bench(pg[0], args.customers, args.activities)
                finally:
                    await drop_pg(pg[1])
        print(
            f"{args.customers:,} customers, {args.activities:,} progress updates, "
            f"{args.activities // 10:,} demands; median of 5 (ms), target ≤ 200 ms\n"
        )
        names = list(tables)
        print("| scan | " + " | ".join(f"{n} ms (rows)" for n in names) + " |")
        print("|---|" + "---|" * len(names))
        for i, (label, _, _) in enumerate(tables[names[0]]):
            cells = []
            for n in names:
                _, value, rows = tables[n][i]
                cells.append(f"{value:.1f} s" if i == 0 else f"{value:.1f} ({rows:,})")
            print(f"| {label} | " + " | ".join(cells) + " |")

    asyncio.run(go())


if __name__ == "__main__":
    main()
