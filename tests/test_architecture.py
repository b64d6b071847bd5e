"""The arrows point one way: channels → bot core → handlers → domain → storage.

``bot.events`` and ``bot.messages`` are plain data (the shared vocabulary) and may be imported by
handlers and scheduler; nothing below the bot imports any other part of ``bot``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = {"bot.events", "bot.messages"}

# package -> top-level packages it must not import
FORBIDDEN = {
    "storage": {"bot", "handlers", "domain", "scheduler", "speech"},
    "domain": {"bot", "handlers", "scheduler", "speech"},
    "handlers": {"bot", "scheduler"},
    "scheduler": {"bot", "handlers"},
    "speech": {"bot", "scheduler"},
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
                if top in banned and name not in VOCABULARY:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []


def test_vocabulary_modules_are_leaf_modules() -> None:
    for module in VOCABULARY:
        path = ROOT / (module.replace(".", "/") + ".py")
        bad = [n for n in _imports(path) if n.split(".")[0] in {"bot", "handlers", "domain", "storage"}]
        assert bad == [], f"{module} imports {bad}"
