"""Sliding-window rate limits per key, on the injectable clock, plus explicit blocks (penalties)."""

from __future__ import annotations

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
