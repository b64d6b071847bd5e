"""A feature module for tests: 崩溃 raises while ``BROKEN`` is set (a handler bug), replies once fixed."""

from __future__ import annotations

from handlers.commands import Command
from handlers.context import Turn
from handlers.registry import Registry

BROKEN = {"on": True}


def setup(registry: Registry) -> None:
    async def crash(turn: Turn, args: str) -> None:
        if BROKEN["on"]:
            raise RuntimeError("boom: the handler has a bug")
        await turn.reply("这次处理好了")

    registry.command(Command(("崩溃",), crash, "fails while the test says the handler is broken"))
