"""Every benchmark still runs: each one at a tiny size, in its own process, must finish and print its
table. (The DingTalk benchmark once stopped starting for weeks without anyone noticing.) The figures are
not checked here; docs/benchmarks.md records full-size runs. The speech benchmark is left out: at any
size it transcribes 60 s notes a dozen times, and its code paths have their own tests in tests/speech."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMOKE = {
    "core_events": ["--events", "200", "--users", "20", "--open-events", "100"],
    "org_people": ["50"],
    "scans": ["--customers", "400", "--activities", "2000", "--no-pg"],
    "clustering": ["--n", "300"],
    "wecom_callback": ["--callbacks", "40", "--concurrency", "4", "--rates", "50", "--users", "5"],
    "dingtalk_stream": ["--burst", "40", "--rate", "20", "--seconds", "1", "--users", "5", "--repeat", "1"],
    "identity": ["--customers", "500", "--repeat", "1"],
    "board": ["--customers", "300", "--activities", "2000", "--no-pg"],
    "flows": [
        "--customers", "50", "--updates", "500", "--twin-sizes", "200",
        "--import-customers", "300", "--import-rows", "40",
    ],
    "photo_reuse": ["--scenes", "3"],
    "killtest": ["--rounds", "2", "--per-round", "5", "--sqlite-only", "--lease", "3", "--leader-lease", "3"],
}  # fmt: skip


def test_every_benchmark_but_speech_has_a_smoke_size() -> None:
    from bench.__main__ import BENCHMARKS

    assert {name.removeprefix("bench.") for name in BENCHMARKS} == {*SMOKE, "speech"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE))
def test_benchmark_runs_and_prints_its_table(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *SMOKE[name]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "|---" in done.stdout, done.stdout[-2000:]
