"""Run every benchmark in turn: ``python -m bench``. Each prints its own table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("bench.core_events", "bench.speech")


def main() -> None:
    for name in BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        module = importlib.import_module(name)
        sys.argv = [name]
        module.main()


if __name__ == "__main__":
    main()
