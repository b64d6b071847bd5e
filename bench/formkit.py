"""Feature module used by the core benchmark: starts a two-field form, completes it silently."""

from __future__ import annotations

from handlers.commands import Command
from handlers.context import Turn
from handlers.forms.engine import FormResult
from handlers.registry import Registry


def setup(registry: Registry) -> None:
    async def start(turn: Turn, args: str) -> None:
        await turn.services.forms.start(
            turn.session,
            now=turn.now,
            user=turn.user,
            form_name="note",
            channel=turn.event.channel,
            turn=turn,
        )

    async def done(turn: Turn, result: FormResult) -> None:
        # Chain the next run the way the product's flows chain forms (handlers/flowkit.py): queued
        # behind the one completing, started as soon as it closes, without a "queued" notice.
        await turn.services.forms.start(
            turn.session,
            now=turn.now,
            user=turn.user,
            form_name="note",
            channel=turn.event.channel,
            turn=turn,
            announce_queue=False,
        )

    registry.command(Command(("开始",), start, "start the bench form"))
    registry.completer("bench_done", done)
