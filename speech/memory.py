"""glibc heap settings for transcription: fewer malloc arenas, and freed memory handed back to the OS.

Each thread that allocates under contention gets its own glibc arena (up to 8 per core), and an arena
keeps what it once held. Two notes transcribed at once run in two worker threads plus CTranslate2's
and onnxruntime's threads, so the encoder's large working buffers end up cached in several arenas.
Measured with two 60 s notes at once (bench/speech.py): peak RSS 738 MB with glibc's default, 662 MB
with two arenas, at the same speed. Elsewhere than glibc these are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from typing import Any

log = logging.getLogger("actionflow.speech")

_M_ARENA_MAX = -8  # from glibc's malloc.h


def _libc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only (musl has no mallopt)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas for the process (before the worker threads start). ``MALLOC_ARENA_MAX``
    in the environment wins; 0 leaves glibc's default. True when the cap was set here."""
    if _LIBC is None or count <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    if not _LIBC.mallopt(_M_ARENA_MAX, count):
        log.warning("could not limit malloc arenas to %s", count)
        return False
    return True


def release_free_memory() -> None:
    """Hand memory freed by a finished note back to the OS (glibc keeps it otherwise: ~0.1 GB a note)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
