"""A feature module for tests: an approval handler that tells the applicant what the bot received."""

from __future__ import annotations

from core.events import ApprovalEvent
from handlers.context import Turn
from handlers.registry import Registry

APPROVAL_MODULES = (
    "handlers.basic",
    "handlers.customer_field",
    "tests.dingtalk.approvalkit",
    "tests.shipped_types",
)


def setup(registry: Registry) -> None:
    async def on_approval(turn: Turn) -> None:
        event = turn.event
        assert isinstance(event, ApprovalEvent)
        fields = "；".join(f"{k}={v}" for k, v in sorted(event.fields.items()))
        await turn.reply(f"审批 {event.approval_id} {event.status}（{event.process_code}）：{fields}")

    registry.approval_handler = on_approval
