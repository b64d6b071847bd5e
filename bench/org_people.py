"""People at scale: roster import/export and contact sync on SQLite, for 200 / 2,000 / 10,000 people.

Prints one table: wall time of each step (read + validate + apply in one transaction), and the peak
Python memory of the first import (tracemalloc). ``python -m bench.org_people``.
"""

from __future__ import annotations

import asyncio
import csv
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from domain.contacts import Department, Directory, Member, SyncOptions, plan_and_apply
from domain.roster.files import read_roster, write_roster
from domain.roster.importer import export_rows, import_roster
from storage.db import Database
from storage.migrate import upgrade

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SIZES = (200, 2000, 10000)
REPEATS = 3


def roster(n: int, path: Path, *, shift: bool = False) -> None:
    """Teams of 10 under managers, managers under directors (one per 10 teams)."""
    header = ["name", "roles", "supervisor", "team", "title", "dingtalk_staff_id", "wecom_userid"]
    rows = []
    for i in range(n):
        team = i // 10
        if i % 100 == 0:
            roles, boss, title = "manager", "", "总监"
        elif i % 10 == 0:
            roles, boss, title = "manager", f"员工{(i // 100) * 100:05d}", "经理"
        else:
            roles, boss, title = "rep", f"员工{team * 10:05d}", "销售"
        if shift and i % 10 == 5:
            title = "高级销售"
        rows.append([f"员工{i:05d}", roles, boss, f"组{team:04d}", title, f"dt{i:05d}", f"wc{i:05d}"])
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def directory(n: int) -> Directory:
    teams = n // 10
    depts = [Department("1", "公司")]
    depts += [Department(f"d{t}", f"组{t:04d}", "1", (f"dt{t * 10:05d}",)) for t in range(teams)]
    members = [Member(f"dt{i:05d}", f"员工{i:05d}", (f"d{i // 10}",), title="销售") for i in range(n)]
    return Directory("dingtalk", tuple(depts), tuple(members))


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


async def measure(n: int, tmp: Path) -> dict[str, float]:
    files = {name: tmp / f"{name}-{n}.csv" for name in ("base", "shift")}
    roster(n, files["base"])
    roster(n, files["shift"], shift=True)
    out: dict[str, list[float]] = {}
    for rep in range(REPEATS):
        db_path = tmp / f"bench-{n}-{rep}.db"
        db = Database(f"sqlite+aiosqlite:///{db_path}")
        await upgrade(db)

        async def do_import(name: str, db: Database = db) -> None:
            async with db.transaction() as session:
                await import_roster(session, read_roster(files[name]), now=NOW, source="bench")

        async def do_export(db: Database = db, rep: int = rep) -> None:
            async with db.read() as session:
                rows = await export_rows(session)
            write_roster(tmp / f"out-{n}-{rep}.csv", rows)

        async def do_sync(db: Database = db) -> None:
            async with db.transaction() as session:
                await plan_and_apply(session, directory(n), SyncOptions(), now=NOW, source="bench")

        out.setdefault("first import (all added)", []).append(await timed(lambda: do_import("base")))
        out.setdefault("re-import, 0 changes", []).append(await timed(lambda: do_import("base")))
        out.setdefault("import, 10% changed", []).append(await timed(lambda: do_import("shift")))
        out.setdefault("export", []).append(await timed(do_export))
        out.setdefault("sync (links ids, sets leaders)", []).append(await timed(do_sync))
        out.setdefault("sync again, 0 changes", []).append(await timed(do_sync))
        await db.dispose()
    # Memory in a separate, untimed pass (tracemalloc slows everything down).
    db = Database(f"sqlite+aiosqlite:///{tmp / f'bench-{n}-mem.db'}")
    await upgrade(db)
    tracemalloc.start()
    async with db.transaction() as session:
        await import_roster(session, read_roster(files["base"]), now=NOW, source="bench")
    peak = tracemalloc.get_traced_memory()[1] / 1048576
    tracemalloc.stop()
    await db.dispose()
    result = {k: statistics.median(v) for k, v in out.items()}
    result["peak Python memory, first import (MiB)"] = peak
    return result


async def run(sizes: tuple[int, ...]) -> None:
    with tempfile.TemporaryDirectory() as d:
        results = {n: await measure(n, Path(d)) for n in sizes}
    steps = list(next(iter(results.values())))
    print(f"median of {REPEATS} runs, SQLite (WAL), milliseconds unless noted\n")
    print("| step | " + " | ".join(f"{n:,} people" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for step in steps:
        cells = " | ".join(
            f"{results[n][step]:,.0f}" if "MiB" not in step else f"{results[n][step]:.1f}" for n in sizes
        )
        print(f"| {step} | {cells} |")
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        step = "first import (all added)"
        first = "first import (all added)"
        per_a, per_b = results[a][first] / a, results[b][first] / b
        print(f"\nper person, first import: {per_a:.2f} ms at {a:,}; {per_b:.2f} ms at {b:,}")


def main() -> None:
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES
    asyncio.run(run(sizes))


if __name__ == "__main__":
    main()
