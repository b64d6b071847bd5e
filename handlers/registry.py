"""Feature modules plug in here: commands, form completers, card handlers, the approval handler.

Each module in :data:`MODULES` defines ``setup(registry)`` and registers everything it brings on the
registry it is given: field types, commands, completers (with the typed answers they read), card
handlers, sweeps, periodic jobs. Nothing is registered in module globals, so a registry holds exactly
the features it was built from, whatever else the process has imported. Adding a feature means adding
a module and one line to that tuple; no other file needs to change.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.formtoken import FORM_TOKEN_PREFIX
from domain.jobs import Job, JobFn, Schedule, add_job
from handlers.commands import Command, CommandSet
from handlers.context import Services, Turn
from handlers.forms.answers import Answers
from handlers.forms.engine import Completer, Discarder
from handlers.forms.fields import FieldType, builtin_field_types

TurnHandler = Callable[[Turn], Awaitable[None]]
# A sweep runs on every scheduler tick (every scheduler.sweep_interval_s, or after the console moves
# its clock) inside one transaction: sweep(session, services, now). Use it for time-based triggers
# such as "the planned visit end has passed → start the visit report".
SweepHandler = Callable[[AsyncSession, Services, datetime], Awaitable[object]]

MODULES: tuple[str, ...] = (
    "handlers.basic",
    "handlers.customer_field",
    "handlers.org",
    "handlers.manager",
    "handlers.customers",
    "handlers.identity",
    "handlers.personality",
    "handlers.visits",
    "handlers.visit_report",
    "handlers.demand",
    "handlers.quotes",
    "handlers.competitor",
    "handlers.trial",
    "handlers.outcomes",
    "handlers.key_persons",
    "handlers.photos",
    "handlers.board",
)


@dataclass
class Registry:
    commands: CommandSet = field(default_factory=CommandSet)
    completers: dict[str, Completer] = field(default_factory=dict)
    discarders: dict[str, Discarder] = field(default_factory=dict)
    card_handlers: dict[str, TurnHandler] = field(default_factory=dict)
    newest_only_cards: set[str] = field(default_factory=set)
    approval_handler: TurnHandler | None = None
    voice_handler: TurnHandler | None = None
    media_handler: TurnHandler | None = None
    sweeps: dict[str, SweepHandler] = field(default_factory=dict)
    field_types: dict[str, FieldType] = field(default_factory=builtin_field_types)
    answer_models: dict[str, type[Answers]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)

    def field_type(self, name: str, field_type: FieldType) -> None:
        if name in self.field_types:
            raise ValueError(f"field type {name!r} registered twice")
        self.field_types[name] = field_type

    def command(self, command: Command) -> None:
        self.commands.add(command)

    def completer(self, name: str, fn: Completer, answers: type[Answers] | None = None) -> None:
        """``answers``: the typed answers ``fn`` reads (``result.typed(answers)``); every form whose
        ``on_complete`` is ``name`` must have a field for each of them (checked at load)."""
        if name in self.completers:
            raise ValueError(f"form completer {name!r} registered twice")
        self.completers[name] = fn
        if answers is not None:
            self.answer_models[name] = answers

    def discarder(self, form: str, fn: Discarder) -> None:
        if form in self.discarders:
            raise ValueError(f"form discarder {form!r} registered twice")
        self.discarders[form] = fn

    def card(self, prefix: str, fn: TurnHandler, *, newest_only: bool = False) -> None:
        """``newest_only``: a newer card of this kind replaces the earlier ones (a question asked
        again), so a number typed after it answers it; otherwise each open card stands for its own
        item (a review) and a bare number with several open is not guessed."""
        if prefix in self.card_handlers or prefix.startswith(FORM_TOKEN_PREFIX):
            owned = f"prefixes starting with {FORM_TOKEN_PREFIX!r} belong to forms"
            raise ValueError(f"card prefix {prefix!r} is taken ({owned})")
        self.card_handlers[prefix] = fn
        if newest_only:
            self.newest_only_cards.add(prefix)

    def sweep(self, name: str, fn: SweepHandler) -> None:
        if name in self.sweeps:
            raise ValueError(f"sweep {name!r} registered twice")
        self.sweeps[name] = fn

    def job(self, name: str, schedule: Schedule, fn: JobFn, *, catch_up: bool = True) -> None:
        """A periodic job: ``fn(app, ctx)`` runs once per period of ``schedule`` (a crontab, or a
        function of the settings giving one, e.g. ``lambda s: s.alerts.stale_scan_cron``), on the
        leader only, its run recorded in ``job_runs`` (``actionflow status``). See ``domain.jobs``.

        The schedule is checked at start: a bad crontab fails the start naming the job.

        Catch-up: a period missed while the bot was down (or before its first start) is run at the
        first tick, however late (up to 8 days): deployed on a Monday, a Friday 17:00 reminder goes
        out that Monday. With ``catch_up=False`` a period is run only within an hour of its time;
        later it is recorded as skipped and the job waits for its next time."""
        add_job(self.jobs, name, schedule, fn, catch_up=catch_up)


def build_registry(modules: tuple[str, ...] = MODULES) -> Registry:
    registry = Registry()
    for name in modules:
        importlib.import_module(name).setup(registry)
    return registry
