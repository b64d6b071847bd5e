"""Run every benchmark in turn: ``python -m bench``. Each prints its own table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: tuple[str, ...] = (
    "bench.core_events",
    "bench.org_people",
    "bench.scans",
    "bench.clustering",
    "bench.wecom_callback",
    "bench.dingtalk_stream",
    "bench.speech",
    "bench.flows",
    "bench.identity",
    "bench.photo_reuse",
    "bench.board",
    "bench.killtest",
)


def main() -> None:
    for name in BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        module = importlib.import_module(name)
        sys.argv = [name]
        module.main()


if __name__ == "__main__":
    main()
