"""The arrows point one way: bot (runtime, channels, CLI) → handlers/scheduler → domain → storage → core.

``core`` is the shared vocabulary at the bottom (events, messages, clock, the channel and speech ports):
every package may import it and it imports nothing else of the project; nothing below ``bot`` imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level packages it must not import
PROJECT = {"core", "bot", "handlers", "domain", "storage", "scheduler", "speech", "config", "emulators"}
FORBIDDEN = {
    "core": PROJECT - {"core"},
    "storage": {"bot", "handlers", "domain", "scheduler", "speech"},
    "domain": {"bot", "handlers", "scheduler", "speech"},
    "handlers": {"bot", "scheduler"},
    "scheduler": {"bot", "handlers"},
    "speech": {"bot", "scheduler", "handlers"},
    "config": {"bot", "handlers", "domain", "storage", "scheduler", "speech"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_layers_only_import_downwards() -> None:
    problems = []
    for package, banned in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for name in _imports(path):
                top = name.split(".")[0]
                if top in banned:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []
