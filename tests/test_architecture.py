"""The arrows point one way: bot (runtime, channels, CLI) → handlers/scheduler → domain → storage → core.

``core`` is the shared vocabulary at the bottom (events, messages, clock, the channel and speech ports):
every package may import it and it imports nothing else of the project; nothing below ``bot`` imports it.
``emulators`` and ``bench`` are tools around the bot: they may use it, but the bot's runtime never
imports them (nor ``tests``), and the test harness ``bot.testing`` is not part of the runtime either.

Modules loaded by name count as imports of the module that names them: the feature modules
(``handlers.registry.MODULES``), the CLI (``bot.cli.main.COMMAND_MODULES``), the config checks
(``bot.cli.core.CONFIG_CHECKS``), the web modules (``bot.web.WEB_MODULES``) and every
``import_module("…")`` with a literal name. Each named module must exist.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = (
    "core",
    "config",
    "storage",
    "domain",
    "speech",
    "handlers",
    "scheduler",
    "bot",
    "emulators",
    "bench",
)
PROJECT = {*PACKAGES, "tests"}
TOOLS = {"emulators", "bench", "tests"}
# package -> top-level packages it must not import
FORBIDDEN = {
    "core": PROJECT - {"core"},
    "config": PROJECT - {"config", "core"},
    "storage": {"bot", "handlers", "domain", "scheduler", "speech"} | TOOLS,
    "domain": {"bot", "handlers", "scheduler", "speech"} | TOOLS,
    "speech": {"bot", "scheduler", "handlers"} | TOOLS,
    "handlers": {"bot", "scheduler"} | TOOLS,
    "scheduler": {"bot", "handlers"} | TOOLS,
    "bot": TOOLS,
    "emulators": {"bench", "tests"},
    "bench": {"tests"},
}
# The documented exceptions: ``actionflow dingtalk emulator`` / ``actionflow wecom emulator`` start an
# emulator for a local try-out, importing it inside the command (never at module level), so the bot's
# runtime imports nothing of ``emulators``. The test harness is for tests, benchmarks and emulators.
LAZY_TOOL_IMPORTS = {
    ("bot/cli/dingtalk.py", "emulators.dingtalk.control"),
    ("bot/cli/wecom.py", "emulators.wecom"),
}
NOT_RUNTIME = {"bot/testing.py"}
NAMED_MODULE_LISTS = {"MODULES", "COMMAND_MODULES", "CONFIG_CHECKS", "WEB_MODULES"}


def _named(node: ast.AST) -> list[str]:
    """Module names a tuple/list of string constants holds (``module:function`` → ``module``)."""
    if not isinstance(node, ast.Tuple | ast.List):
        return []
    return [
        e.value.partition(":")[0]
        for e in node.elts
        if isinstance(e, ast.Constant) and isinstance(e.value, str)
    ]


def _imports(path: Path) -> dict[str, bool]:
    """Every module ``path`` imports or loads by name → whether at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, bool] = {}

    def add(name: str, top: bool) -> None:
        found[name] = found.get(name, False) or top

    def visit(node: ast.AST, top: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, top)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            add(node.module, top)
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                add(str(node.args[0].value), top)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id in NAMED_MODULE_LISTS for t in targets) and node.value:
                for name in _named(node.value):
                    add(name, top)
        inner = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return found


def _files(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def _exists(module: str) -> bool:
    base = ROOT.joinpath(*module.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_layers_only_import_downwards() -> None:
    problems = []
    for package, banned in FORBIDDEN.items():
        for path in _files(package):
            rel = path.relative_to(ROOT).as_posix()
            if rel in NOT_RUNTIME:
                continue
            for name, top_level in _imports(path).items():
                if name.split(".")[0] not in banned:
                    continue
                if (rel, name) in LAZY_TOOL_IMPORTS and not top_level:
                    continue
                problems.append(f"{rel} imports {name}")
    assert problems == []


def test_every_package_is_checked() -> None:
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert on_disk <= set(FORBIDDEN), f"add the new package to FORBIDDEN: {on_disk - set(FORBIDDEN)}"


def test_modules_loaded_by_name_exist() -> None:
    missing = []
    for package in PACKAGES:
        for path in _files(package):
            for name in _imports(path):
                if name.split(".")[0] in PROJECT and not _exists(name):
                    missing.append(f"{path.relative_to(ROOT)} names {name}")
    assert missing == []


def test_named_module_lists_are_seen() -> None:
    """The checks above really read the by-name lists (a rename would make them silently empty)."""
    registry = _imports(ROOT / "handlers" / "registry.py")
    assert "handlers.visits" in registry and "handlers.trial" in registry
    cli = _imports(ROOT / "bot" / "cli" / "main.py")
    assert "bot.cli.wecom" in cli
    assert "bot.cli.org" in _imports(
        ROOT / "bot" / "cli" / "core.py"
    )  # CONFIG_CHECKS "bot.cli.org:check_org"
    app = _imports(ROOT / "bot" / "app.py")
    assert "speech.service" in app and "scheduler.jobs" in app


def test_the_exceptions_are_lazy(tmp_path: Path) -> None:
    """A module-level import of an emulator from the CLI is refused; one inside a function is not."""
    sample = tmp_path / "cli.py"
    sample.write_text(
        "import emulators.wecom\n\ndef cmd():\n    from emulators.dingtalk import x\n", encoding="utf-8"
    )
    assert _imports(sample) == {"emulators.wecom": True, "emulators.dingtalk": False}
