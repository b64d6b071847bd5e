"""The glibc arena cap (speech/memory.py) really limits the arenas threads allocate from."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from speech import memory

SCRIPT = """
import ctypes, sys, threading
from speech.memory import limit_arenas
print(limit_arenas(int(sys.argv[1])), flush=True)
ready = threading.Barrier(8)
def work():  # all eight threads hold their memory at once, so none can reuse an exited thread's arena
    blocks = [bytearray(4096) for _ in range(200)]
    ready.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(cap: int, env: dict[str, str] | None = None) -> tuple[str, int]:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cap)],
        capture_output=True,
        text=True,
        check=True,
        env={**{k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}, **(env or {})},
    )
    return run.stdout.strip(), run.stderr.count("Arena ")


@pytest.mark.skipif(memory._LIBC is None, reason="glibc only")
def test_cap_limits_the_arenas_of_new_threads() -> None:
    assert _arenas(2) == ("True", 2)
    set_here, default = _arenas(0)
    assert set_here == "False" and default > 2  # glibc's default gives each new thread its own arena


@pytest.mark.skipif(memory._LIBC is None, reason="glibc only")
def test_the_environment_wins() -> None:
    assert _arenas(2, {"MALLOC_ARENA_MAX": "3"}) == ("False", 3)
