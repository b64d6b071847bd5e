"""Heap settings for transcription: fewer glibc arenas, no MKL buffer cache, freed memory handed back.

Each thread that allocates gets its own glibc arena (up to 8 per core), and an arena keeps what it once
held. Two notes transcribed at once run in two worker threads plus CTranslate2's and onnxruntime's
threads, so the encoder's large working buffers end up cached in several arenas. CTranslate2 links
Intel MKL, whose own memory manager keeps freed buffers too (``MKL_DISABLE_FAST_MM`` turns that off).
Measured with two 60 s notes at once outside the bot (bench/speech.py): peak RSS 738 MB with the
defaults, 612–677 MB with two arenas, 579–614 MB with MKL's cache off as well, at the same speed within
noise. The glibc parts are no-ops elsewhere.
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


def keep_heaps_small(arenas: int) -> None:
    """Call before the transcription threads start: cap glibc's arenas (see :func:`limit_arenas`) and
    turn off MKL's buffer cache unless ``MKL_DISABLE_FAST_MM`` is already set."""
    limit_arenas(arenas)
    os.environ.setdefault("MKL_DISABLE_FAST_MM", "1")  # read when MKL first allocates


def release_free_memory() -> None:
    """Hand memory freed by a finished note back to the OS (glibc keeps it otherwise: ~0.1 GB a note)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
