"""A status is written and compared as its enum member (``storage/models/status.py``), never as a bare
string (#16). A member equals its value, so both run the same today; but ``visit.status == "complete"``
is always false and ``row.status = "canceled"`` fails only at the database's CHECK constraint, whereas
``VisitStatus.COMPLETE`` fails at import and in mypy.

The check reads the project's source (not tests/) and flags a string constant that is:
compared with a ``.status`` (or a ``status`` variable, or ``x["status"]``), assigned to one (also in a
tuple assignment), passed as ``status=`` / ``statuses=``, given to ``.status.in_()`` / ``.notin_()``,
or held by a ``{"status": …}`` literal. Constants inside a tuple/list/set, ``a if c else b`` and
``a or b`` count. The statuses that have no enum are listed in ``NOT_ENUM_STATUSES`` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_architecture import PACKAGES

ROOT = Path(__file__).resolve().parents[1]
# Alembic revisions freeze the values as text; the models' defaults and partial-index predicates sit
# below the enums (storage.models.status imports the models).
SKIPPED_DIRS = ("storage/migrations/", "storage/models/")

# (file, what holds the status) -> why that status is a plain string
NOT_ENUM_STATUSES: dict[tuple[str, str], str] = {
    ("bot/channels/wecom/store.py", "WeComApproval.status"): "wecom_approvals.status has no enum or CHECK",
    ("bot/channels/wecom/store.py", '{"status": …}'): "the wecom_approvals row it inserts",
    ("handlers/visits.py", "event.status"): "core.events.ApprovalStatus, a Literal of the approval platform",
    ("bot/web/health.py", '{"status": …}'): "the health endpoint's ok/fail, not a stored status",
    ("emulators/dingtalk/emulator.py", "status"): "the DingTalk API's own RUNNING/COMPLETED",
}


def _constants(node: ast.AST | None) -> list[ast.Constant]:
    """The string constants ``node`` may evaluate to."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [c for e in node.elts for c in _constants(e)]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [c for v in node.values for c in _constants(v)]
    return []


def _is_status(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "status"
    if isinstance(node, ast.Name):
        return node.id == "status"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "status"
    return False


def literal_statuses(source: str) -> list[tuple[int, str, str]]:
    """(line, what holds the status, the literal) for each string literal used as a status."""
    found: list[tuple[int, str, str]] = []

    def add(holder: str, value: ast.AST | None) -> None:
        found.extend((c.lineno, holder, str(c.value)) for c in _constants(value))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            statuses = [o for o in operands if _is_status(o)]
            if statuses:
                for operand in operands:
                    add(ast.unparse(statuses[0]), operand)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if _is_status(target):
                    add(ast.unparse(target), node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for name, value in zip(target.elts, node.value.elts, strict=False):
                        if _is_status(name):
                            add(ast.unparse(name), value)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"in_", "notin_"} and _is_status(func.value):
                for arg in node.args:
                    add(ast.unparse(func.value), arg)
            for keyword in node.keywords:
                if keyword.arg in {"status", "statuses"}:
                    add(f"{keyword.arg}=", keyword.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status":
                    add('{"status": …}', value)
    return sorted(found)


def _project_files() -> list[Path]:
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return [p for p in files if not p.relative_to(ROOT).as_posix().startswith(SKIPPED_DIRS)]


def _findings() -> list[tuple[str, int, str, str]]:
    return [
        (rel, line, holder, value)
        for path in _project_files()
        for rel in [path.relative_to(ROOT).as_posix()]
        for line, holder, value in literal_statuses(path.read_text(encoding="utf-8"))
    ]


def test_statuses_are_enum_members_in_the_project() -> None:
    bare = [
        f"{rel}:{line}: {holder} with {value!r}"
        for rel, line, holder, value in _findings()
        if (rel, holder) not in NOT_ENUM_STATUSES
    ]
    assert bare == [], "use the enum of storage/models/status.py:\n" + "\n".join(bare)


def test_every_exception_is_still_needed() -> None:
    used = {(rel, holder) for rel, _, holder, _ in _findings()}
    assert set(NOT_ENUM_STATUSES) <= used, set(NOT_ENUM_STATUSES) - used


def test_the_checker_flags_each_way_of_writing_a_string_status() -> None:
    planted = """
visit.status = "done"
visit.status, visit.updated_at = "cancelled", now
row.status = "approved" if ok else "commented"
if visit.status == "planned" or "open" != demand.status:
    pass
if state.status in ("active", "queued"):
    pass
stmt = select(Deadline).where(Deadline.status != "cancelled")
stmt = select(User).where(User.status.in_(["active", "pending"]))
update(Outbox).values(status="sent")
User(name="a", status="inactive")
resolve(session, ref, statuses=("active",))
rows = [{"status": "open", "text": "x"}]
if after["status"] == "inactive" or status == "received":
    pass
row.status = value or "active"
"""
    assert [(line, value) for line, _, value in literal_statuses(planted)] == [
        (2, "done"),
        (3, "cancelled"),
        (4, "approved"),
        (4, "commented"),
        (5, "open"),
        (5, "planned"),
        (7, "active"),
        (7, "queued"),
        (9, "cancelled"),
        (10, "active"),
        (10, "pending"),
        (11, "sent"),
        (12, "inactive"),
        (13, "active"),
        (14, "open"),
        (15, "inactive"),
        (15, "received"),
        (17, "active"),
    ]


def test_the_checker_passes_enum_members_and_other_strings() -> None:
    clean = """
visit.status = VisitStatus.DONE
visit.status, visit.note = VisitStatus.CANCELLED, "客户临时有事"
if visit.status in OPEN_STATUSES and visit.kind == "visit":
    pass
stmt = select(User).where(User.status.in_([UserStatus.ACTIVE]), User.name == "张三")
User(name="active", status=UserStatus.ACTIVE)
label = STATUS_LABELS.get(user.status, "")
"""
    assert literal_statuses(clean) == []
