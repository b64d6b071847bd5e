"""A short, bounded run of the kill test (bench/killtest.py, which docs/benchmarks.md records at 20
rounds): two real instances on a shared database and the WeCom emulator, SIGKILL and SIGSTOP at
random points. Nothing lost, nothing delivered twice, recovery and failover within their limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.killtest import run


async def _check(url: str, backend: str) -> None:
    # Leases of 3 s keep the test short; the bench runs the production 10 s.
    result = await run(url, backend, rounds=4, per_round=10, lease=3.0, leader_lease=3.0, seed=7, quiet=True)
    assert result.rounds == 4 and result.sent == 40
    assert result.lost == 0
    assert result.duplicated == 0
    assert result.recovery_ready_s and max(result.recovery_ready_s) <= 5.0
    assert all(s <= 15.0 for s in result.failover_s)


@pytest.mark.slow
async def test_kill_loop_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}", "SQLite")


@pytest.mark.slow
@pytest.mark.postgres
async def test_kill_loop_postgres(pg_url: str) -> None:
    await _check(pg_url, "PostgreSQL")
