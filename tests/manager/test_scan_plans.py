"""The zombie scan reads each owner's few longest-idle customers through its index, not by ranking
every zombie (that is what kept the 100k-customer scan under 200 ms on SQLite; see docs/benchmarks.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from domain.names import normalize
from domain.staleness import zombie_customers
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, User

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def test_per_owner_zombies_use_the_index_and_pick_the_longest_idle(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    try:
        await upgrade(db)
        async with db.transaction() as s:
            reps = [User(name=n, created_at=NOW, updated_at=NOW) for n in ("甲", "乙")]
            s.add_all(reps)
            await s.flush()
            a, b = reps[0].id, reps[1].id
            for i in range(12):
                for owner in (None, a, b):
                    name = f"客户{owner}-{i}"
                    s.add(
                        Customer(
                            name=name,
                            normalized_name=normalize(name),
                            owner_id=owner,
                            status="inactive" if i == 0 else "active",
                            last_deal_at=NOW - timedelta(days=100 + i),
                            created_at=NOW - timedelta(days=900),
                            updated_at=NOW,
                        )
                    )
            await s.execute(text("ANALYZE"))
        async with db.read() as s:
            rows = await zombie_customers(s, NOW, 90, per_owner=3)
            plan = " ".join(
                str(r[-1])
                for r in (
                    await s.execute(
                        text(
                            "EXPLAIN QUERY PLAN SELECT id FROM customers WHERE status = 'active' AND owner_id = 1 "
                            "AND coalesce(last_deal_at, lead_created_at, created_at) < '2026-08-25' "
                            "ORDER BY coalesce(last_deal_at, lead_created_at, created_at), id LIMIT 3"
                        )
                    )
                ).all()
            )
        assert "ix_customers_active_owner_deal_base" in plan
        by_owner: dict[int | None, list[int]] = {}
        for z in rows:
            by_owner.setdefault(z.owner_id, []).append(z.days)
        # three per owner (unowned customers too), the longest idle first; inactive ones never count
        assert {k: sorted(v, reverse=True) for k, v in by_owner.items()} == {
            None: [111, 110, 109],
            a: [111, 110, 109],
            b: [111, 110, 109],
        }
    finally:
        await db.dispose()
