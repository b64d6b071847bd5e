"""Feature modules plug in here: commands, form completers, card handlers, the approval handler.

Each module in :data:`MODULES` defines ``setup(registry)``. Adding a feature means adding a module and
one line to that tuple; no other file needs to change.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.commands import Command, CommandSet
from handlers.context import Services, Turn
from handlers.forms.engine import Completer

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
    "handlers.personality",
    "handlers.visits",
    "handlers.visit_report",
    "handlers.demand",
    "handlers.quotes",
    "handlers.competitor",
    "handlers.trial",
)


@dataclass
class Registry:
    commands: CommandSet = field(default_factory=CommandSet)
    completers: dict[str, Completer] = field(default_factory=dict)
    card_handlers: dict[str, TurnHandler] = field(default_factory=dict)
    approval_handler: TurnHandler | None = None
    voice_handler: TurnHandler | None = None
    media_handler: TurnHandler | None = None
    sweeps: dict[str, SweepHandler] = field(default_factory=dict)

    def command(self, command: Command) -> None:
        self.commands.add(command)

    def completer(self, name: str, fn: Completer) -> None:
        if name in self.completers:
            raise ValueError(f"form completer {name!r} registered twice")
        self.completers[name] = fn

    def card(self, prefix: str, fn: TurnHandler) -> None:
        if prefix in self.card_handlers or prefix.startswith("f"):
            raise ValueError(f"card prefix {prefix!r} is taken (prefixes starting with 'f' belong to forms)")
        self.card_handlers[prefix] = fn

    def sweep(self, name: str, fn: SweepHandler) -> None:
        if name in self.sweeps:
            raise ValueError(f"sweep {name!r} registered twice")
        self.sweeps[name] = fn


def build_registry(modules: tuple[str, ...] = MODULES) -> Registry:
    registry = Registry()
    for name in modules:
        importlib.import_module(name).setup(registry)
    return registry
