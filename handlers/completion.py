"""The end every sales-flow completer shares: audit, the customer's progress log, the deadline met, the
reply — in that order, in the completer's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.messages import Message
from domain import deadlines
from domain import progress as progress_log
from handlers.context import Turn
from handlers.flowkit import due_note
from storage.models import Customer, Deadline


@dataclass(frozen=True)
class Audit:
    action: str
    entity_type: str
    entity_id: Any
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class Progress:
    """One line in the customer's progress log (``kind``: visit_report, demand, profile, trial, …)."""

    customer: Customer
    kind: str
    progress: str = ""
    note: str = ""
    visit_id: int | None = None


@dataclass(frozen=True)
class DeadlineMet:
    kind: str
    entity_type: str
    entity_id: int


# The reply: a text or a message (a PDF), several in order, or a function of the deadline's due note.
Reply = str | Message | list[str | Message] | Callable[[str], str]


async def finish(
    turn: Turn,
    *,
    reply: Reply,
    audit: Sequence[Audit] = (),
    progress: Progress | None = None,
    deadline: DeadlineMet | None = None,
) -> Deadline | None:
    """Write the audit entries and the progress line, mark the deadline done, then reply. A callable
    ``reply`` gets the due note of the deadline (「（按时完成）」, how late, or ""); a list is sent in
    order."""
    for entry in audit:
        turn.audit(entry.action, entry.entity_type, entry.entity_id, before=entry.before, after=entry.after)
    if progress is not None:
        await progress_log.record(
            turn.session,
            now=turn.now,
            customer=progress.customer,
            rep_id=turn.user.id,
            kind=progress.kind,
            progress=progress.progress,
            note=progress.note,
            visit_id=progress.visit_id,
        )
    row = None
    if deadline is not None:
        row = await deadlines.complete(
            turn.session,
            now=turn.now,
            kind=deadline.kind,
            entity_type=deadline.entity_type,
            entity_id=deadline.entity_id,
        )
    if callable(reply):
        reply = reply(due_note(row, turn.services.tz))
    for message in reply if isinstance(reply, list) else [reply]:
        await turn.reply(message)
    return row
