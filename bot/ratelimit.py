"""Sliding-window rate limits per key, on the injectable clock, plus explicit blocks (penalties).

The one limiter of the project: the outbox sender's per-target limits, the WeCom group robots' 20
messages a minute (``bot/channels/wecom/webhook.py``) and the DingTalk API's per-API rate
(``bot/channels/dingtalk/api.py``, which waits for a slot with :meth:`RateLimiter.wait`)."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime, timedelta

from core.clock import Clock


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sent: dict[str, deque[datetime]] = {}
        self._blocked: dict[str, datetime] = {}
        self._after_block: set[str] = set()

    def block(self, key: str, until: datetime) -> None:
        self._blocked[key] = max(until, self._blocked.get(key, until))

    def blocked_until(self, key: str) -> datetime | None:
        until = self._blocked.get(key)
        if until is not None and until <= self._clock.now():
            del self._blocked[key]
            # The platform penalised this key: whatever waited goes out as one message first.
            self._after_block.add(key)
            return None
        return until

    def free(self, key: str, calls: int, per_s: float) -> int:
        """How many sends ``key`` may make right now (0 while blocked, 1 right after a block)."""
        now = self._clock.now()
        if self.blocked_until(key) is not None:
            return 0
        if key in self._after_block:
            return 1
        window = timedelta(seconds=per_s)
        sent = self._sent.get(key, deque())
        return max(0, calls - sum(1 for t in sent if t > now - window))

    def room(self, key: str, calls: int, per_s: float) -> tuple[int, float]:
        """``(sends left in the window now, seconds until the oldest send leaves it)``; takes nothing."""
        now = self._clock.now()
        window = timedelta(seconds=per_s)
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - window:
            sent.popleft()
        wait = (sent[0] + window - now).total_seconds() if sent else 0.0
        return calls - len(sent), max(wait, 0.0)

    async def wait(self, key: str, calls: int, per_s: float) -> None:
        """Take a slot, sleeping until one frees. Meant for a real-time clock: a clock that does not
        move while this sleeps (``ManualClock``) would keep it waiting."""
        while True:
            until = self.acquire(key, calls, per_s)
            if until is None:
                return
            await asyncio.sleep(max((until - self._clock.now()).total_seconds(), 0.001))

    def acquire(self, key: str, calls: int, per_s: float) -> datetime | None:
        """Take a slot now and return None, or return when the next slot frees (nothing taken)."""
        now = self._clock.now()
        until = self.blocked_until(key)
        if until is not None:
            return until
        window = timedelta(seconds=per_s)
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) >= calls:
            return sent[0] + window
        sent.append(now)
        self._after_block.discard(key)
        return None
