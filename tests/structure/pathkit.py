"""A feature module for the event-path tests: a card of its own, an approval handler, a voice handler."""

from __future__ import annotations

from core.events import ApprovalEvent, CardActionEvent
from core.messages import Choice
from handlers.commands import Command
from handlers.context import Turn
from handlers.registry import Registry

PATHKIT_MODULES = (
    "handlers.basic",
    "handlers.customer_field",
    "tests.core.formkit",
    "tests.structure.pathkit",
)


def setup(registry: Registry) -> None:
    async def show_card(turn: Turn, args: str) -> None:
        await turn.reply(Choice(prompt="选一个颜色", options=["红", "绿"], token="probe:1"))

    async def picked(turn: Turn) -> None:
        assert isinstance(turn.event, CardActionEvent)
        await turn.reply(f"选了 {turn.event.values[0]}")

    async def on_approval(turn: Turn) -> None:
        assert isinstance(turn.event, ApprovalEvent)
        await turn.reply(f"审批 {turn.event.approval_id} {turn.event.status}")

    registry.command(Command(("探针卡片",), show_card, "show a card of this feature"))
    registry.card("probe:", picked)
    registry.approval_handler = on_approval
