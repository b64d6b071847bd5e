"""Chat commands: a registry each feature module contributes to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from handlers.context import Turn

CommandFn = Callable[[Turn, str], Awaitable[None]]

TRAILING_MARKS = " !！?？。.~～,，…"


@dataclass(frozen=True)
class Command:
    """``names`` are matched at the start of a message; the rest of the text is the argument.

    ``roles``: who may use it (empty = everyone active). ``in_form``: also works while a form is
    open (the form's question is asked again afterwards), except inside ``own_form``, the form the command
    itself opens, where the message is that form's answer. ``exact``: the whole message must match.
    """

    names: tuple[str, ...]
    run: CommandFn
    help: str
    roles: frozenset[str] = frozenset()
    in_form: bool = False
    own_form: str = ""
    exact: bool = False
    hidden: bool = False
    group: str = "常用"


class CommandSet:
    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: list[Command] = []
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        for existing in self._commands:
            clash = set(existing.names) & set(command.names)
            if clash:
                raise ValueError(f"command name registered twice: {sorted(clash)}")
        self._commands.append(command)
        # Longest names first so "客户列表" wins over "客户".
        self._commands.sort(key=lambda c: -max(len(n) for n in c.names))

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands)

    def match(self, text: str, *, separated: bool = False) -> tuple[Command, str] | None:
        """The command ``text`` starts with, and the rest as its argument.

        Chinese names may run straight into their argument (「客户杭州一院」). With ``separated``
        (used while a form is open) a space or colon must follow the name, so an answer such as
        「客户说太贵了」 is not taken for the 客户 command."""
        stripped = text.strip()
        # An exact command still matches with a closing mark or a different case: 「在吗？」, 「Hi!」.
        bare = stripped.rstrip(TRAILING_MARKS).lower()
        for command in self._commands:
            for name in command.names:
                if command.exact:
                    if stripped == name or (bare and bare == name.lower()):
                        return command, ""
                elif stripped == name or stripped.startswith(name):
                    rest = stripped[len(name) :]
                    glued = rest and not (rest[0].isspace() or rest[0] in "：:")
                    if glued and (name.isascii() or separated):
                        continue
                    return command, rest.strip().lstrip("：:").strip()
        return None
