"""Importing the project's own modules by name at start, without hiding a broken one.

A module of the project that fails to import is a bug: the start fails with the module's name and the
cause. Only a third-party module the caller names as optional may be missing; that is logged as a
warning and the feature it serves stays off.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from types import ModuleType

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The bot cannot start; the message says why in plain words."""


def import_module(name: str, *, optional: Collection[str] = (), purpose: str = "") -> ModuleType | None:
    """``importlib.import_module(name)``; ``None`` (with a warning) only when the module that is missing
    is one of the third-party top-level packages in ``optional``. Anything else raises StartupError."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing and missing in optional:
            log.warning(
                "optional module %s is not installed; %s is off",
                missing,
                purpose or name,
                extra={"import": name, "missing": missing},
            )
            return None
        raise StartupError(f"cannot import {name} ({purpose or 'needed at start'}): {exc}") from exc
