"""What ``actionflow check-config`` checks return: problems in plain words, each an error or a warning.

A check is a function ``(settings) -> list[str]``. A plain string is an **error**: a value is wrong and
the bot (or the feature it configures) cannot work with it, so check-config exits non-zero and, as the
systemd unit's ``ExecStartPre``, keeps the service from starting. A :class:`ConfigWarning` is something
the bot runs with as it is — lines of a word list skipped, a file read only up to its bound, no speech
model or report font, so that feature is off: it is printed and check-config still exits 0.
"""

from __future__ import annotations


class ConfigWarning(str):
    """A check-config finding the bot starts and runs with (printed; the exit status stays 0)."""

    __slots__ = ()


def is_warning(problem: str) -> bool:
    return isinstance(problem, ConfigWarning)
