"""Kill test: two instances share a database and the WeCom emulator; each round queues messages, then
SIGKILLs (and restarts) or SIGSTOPs an instance at a random point. Counts messages lost and
duplicated (as WeCom delivered them), the recovery time after a restart (from starting the new
process to the last message of the round delivered) and the failover time (from freezing or killing
the leader to the other instance leading).

    python -m bench.killtest --rounds 20 [--pg URL]

Defaults are the production ones (outbox and leader leases 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.kill_worker import AGENT_ID, CORP_ID, SECRET
from core.clock import SystemClock
from core.messages import Text
from domain.outbox import enqueue
from emulators.wecom.server import WeComEmulator
from storage.db import Database
from storage.migrate import upgrade

USERS = [f"user{i}" for i in range(6)]


@dataclass
class Result:
    backend: str
    rounds: int = 0
    sent: int = 0
    lost: int = 0
    duplicated: int = 0
    recovery_s: list[float] = field(default_factory=list)  # from the new process's start
    recovery_ready_s: list[float] = field(default_factory=list)  # from it being up (imports done)
    failover_s: list[float] = field(default_factory=list)


class Instance:
    def __init__(
        self, db_url: str, api_base: str, status_dir: Path, lease: float, leader_lease: float
    ) -> None:
        cmd = [
            sys.executable, "-m", "bench.kill_worker", "--db", db_url, "--api-base", api_base,
            "--status-dir", str(status_dir), "--lease", str(lease), "--leader-lease", str(leader_lease),
        ]  # fmt: skip
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.status = status_dir / str(self.proc.pid)
        self.frozen = False
        self.ready = 0.0

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"instance {self.proc.pid} did not start")
        self.ready = time.monotonic()

    def leads(self) -> bool:
        try:
            return self.status.read_text() == "1" and time.time() - self.status.stat().st_mtime < 1.5
        except OSError:
            return False

    def kill(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)
        self.frozen = sig == signal.SIGSTOP

    def end(self) -> None:
        if self.frozen:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def delivered(emu: WeComEmulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    with emu._lock:
        bodies = list(emu.messages)
    for body in bodies:
        text = str((body.get("text") or {}).get("content", ""))
        counts[text] = counts.get(text, 0) + 1
    return counts


def all_delivered(emu: WeComEmulator, texts: list[str]) -> Callable[[], bool]:
    return lambda: all(delivered(emu).get(x, 0) >= 1 for x in texts)


def any_leads(instances: list[Instance]) -> Callable[[], bool]:
    return lambda: any(i.leads() for i in instances)


async def queue(db: Database, texts: list[str]) -> None:
    now = SystemClock().now()
    async with db.transaction() as session:
        for i, text in enumerate(texts):
            await enqueue(
                session, now=now, channel="wecom", target_kind="user", target=USERS[i % len(USERS)],
                message=Text(text=text), key=f"kill:{text}",
            )  # fmt: skip


async def wait_for(cond: Callable[[], bool], within: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if cond():
            return time.monotonic()
        await asyncio.sleep(0.02)
    return None


async def run(
    db_url: str,
    backend: str,
    rounds: int,
    per_round: int,
    *,
    lease: float = 10.0,
    leader_lease: float = 10.0,
    seed: int = 1,
    quiet: bool = False,
) -> Result:
    rng = random.Random(seed)
    result = Result(backend)
    db = Database(db_url)
    await upgrade(db)
    emu = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID).start()
    status_dir = Path(tempfile.mkdtemp(prefix="killtest-"))
    instances: list[Instance] = []

    def spawn() -> Instance:
        inst = Instance(db_url, emu.base_url, status_dir, lease, leader_lease)
        inst.wait_ready()
        instances.append(inst)
        return inst

    all_texts: list[str] = []
    try:
        spawn()
        spawn()
        await wait_for(lambda: any(i.leads() for i in instances), 30)
        for r in range(rounds):
            live = [i for i in instances if i.proc.poll() is None and not i.frozen]
            texts = [f"第{r}轮第{m}条 {uuid.uuid4().hex[:6]}" for m in range(per_round)]
            all_texts += texts
            await queue(db, texts)
            await asyncio.sleep(rng.uniform(0.0, 0.25))  # a random point in the round's sending
            fault = signal.SIGKILL if r % 2 == 0 else signal.SIGSTOP
            leaders = [i for i in live if i.leads()]
            victim = leaders[0] if leaders and rng.random() < 0.5 else rng.choice(live)
            was_leader = victim.leads()
            hit = time.monotonic()
            victim.kill(fault)
            if fault == signal.SIGKILL:
                victim.proc.wait()
                instances.remove(victim)
                fresh = Instance(db_url, emu.base_url, status_dir, lease, leader_lease)
                instances.append(fresh)
                fresh.wait_ready()
                done = await wait_for(all_delivered(emu, texts), 60)
                if done is not None:
                    result.recovery_s.append(done - fresh.started)
                    result.recovery_ready_s.append(max(done - fresh.ready, 0.0))
            else:
                done = await wait_for(all_delivered(emu, texts), 60)
            if was_leader:  # another instance leads: the survivor, or the restarted one if it won
                took = await wait_for(any_leads([i for i in instances if i is not victim]), 60)
                if took is not None:
                    result.failover_s.append(took - hit)
            if fault == signal.SIGSTOP:
                victim.kill(signal.SIGCONT)
                victim.frozen = False
                await asyncio.sleep(0.5)  # it wakes up holding stale claims: it must not send them
                victim.end()
                instances.remove(victim)
                spawn()
            result.rounds += 1
            if not quiet:
                print(f"round {r + 1}: {'SIGKILL' if fault == signal.SIGKILL else 'SIGSTOP'}"
                      f"{' (leader)' if was_leader else ''}", flush=True)  # fmt: skip
        await wait_for(lambda: all(delivered(emu).get(x, 0) >= 1 for x in all_texts), 30)
        await asyncio.sleep(1.0)
    finally:
        for inst in instances:
            inst.end()
        emu.stop()
        await db.dispose()
    counts = delivered(emu)
    result.sent = len(all_texts)
    result.lost = sum(1 for x in all_texts if counts.get(x, 0) == 0)
    result.duplicated = sum(counts.get(x, 0) - 1 for x in all_texts if counts.get(x, 0) > 1)
    return result


def table(results: list[Result]) -> str:
    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f}" if xs else "-"

    def top(xs: list[float]) -> str:
        return f"{max(xs):.2f}" if xs else "-"

    lines = [
        "| backend | rounds | messages | lost | duplicated | recovery from process start, median / max (s) "
        "| recovery from bot up, median / max (s) | leader failover, median / max (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.rounds} | {r.sent} | {r.lost} | {r.duplicated} | "
            f"{med(r.recovery_s)} / {top(r.recovery_s)} | "
            f"{med(r.recovery_ready_s)} / {top(r.recovery_ready_s)} | "
            f"{med(r.failover_s)} / {top(r.failover_s)} |"
        )
    return "\n".join(lines)


async def _fresh_pg(admin_url: str) -> str:
    import asyncpg

    name = f"af_kill_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rpartition('/')[0]}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Kill test: SIGKILL/SIGSTOP two instances, count losses.")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--pg", default="", help="PostgreSQL admin URL (a fresh database is created)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--lease", type=float, default=10.0, help="outbox lease (s)")
    parser.add_argument("--leader-lease", type=float, default=10.0, help="scheduler leader lease (s)")
    args = parser.parse_args()
    leases = {"lease": args.lease, "leader_lease": args.leader_lease}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'kill.db'}"
        results.append(asyncio.run(run(url, "SQLite", args.rounds, args.per_round, **leases)))
    if args.pg and not args.sqlite_only:
        pg = asyncio.run(_fresh_pg(args.pg))
        results.append(asyncio.run(run(pg, "PostgreSQL", args.rounds, args.per_round, **leases)))
    print(table(results))


if __name__ == "__main__":
    main()
