"""Running `actionflow run --demo` in a subprocess with a script on stdin, as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_demo_console(
    script: str, *, cwd: Path, settings: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The console demo with ``script`` piped in. ``ACTIONFLOW_*`` variables of the caller's environment
    are left out; ``settings`` (environment overrides) are the only ones the bot sees."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONFLOW_")}
    env["ACTIONFLOW_WEB__LISTEN"] = ""  # no fixed port in tests (the board has its own tests)
    env.update(settings or {}, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bot", "--log-level", "WARNING", "run", "--demo"],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
