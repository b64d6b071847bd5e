"""Customer stages as data: the funnel, the stage a signed order means, what a visit's progress implies.

Read from the ``[stages]`` table of the forms file (config/forms.toml); the defaults below apply when it
has none. Stored on ``customers.stage`` is the key (settings such as ``alerts.stale_hours_by_stage``
use it); people read and type the label.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.numerals import typed_number

DEFAULT_LABELS: dict[str, str] = {
    "lead": "线索",
    "diagnosis": "需求诊断",
    "proposal": "方案呈现",
    "trial": "试用",
    "objection": "异议处理",
    "contract": "签约回款",
    "repurchase": "复购激活",
}
DEFAULT_WON = "contract"
DEFAULT_FROM_PROGRESS: dict[str, str] = {"签署试用协议": "trial"}


class StagesError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Stages:
    labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))  # funnel order
    won: str = DEFAULT_WON
    from_progress: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FROM_PROGRESS))

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def find(self, text: str) -> str | None:
        """The stage key ``text`` names (its label or key, a 1-based number, or two or more characters of
        exactly one label), else None."""
        wanted = text.strip().strip("「」\"'").lower()
        keys = list(self.labels)
        number = typed_number(wanted)
        if number is not None and 1 <= number <= len(keys):
            return keys[number - 1]
        for key, label in self.labels.items():
            if wanted in (key.lower(), label.lower()):
                return key
        partial = [key for key, label in self.labels.items() if len(wanted) >= 2 and wanted in label]
        return partial[0] if len(partial) == 1 else None  # 签约 → 签约回款

    def rank(self, key: str) -> int:
        keys = list(self.labels)
        return keys.index(key) if key in keys else -1

    def before_won(self, key: str) -> bool:
        """A lead or prospect: a stage earlier in the funnel than the won stage (or an unknown one)."""
        return self.rank(key) < self.rank(self.won)

    def options_text(self) -> str:
        return "、".join(self.labels.values())


def parse_stages(raw: Any) -> Stages:
    """The ``[stages]`` table; raises StagesError naming every problem."""
    if raw is None:
        return Stages()
    if not isinstance(raw, dict):
        raise StagesError(["stages: must be a table"])
    problems: list[str] = []
    unknown = set(raw) - {"labels", "won", "from_progress"}
    if unknown:
        problems.append(f"stages: unknown keys {', '.join(sorted(unknown))}")
    labels = raw.get("labels", DEFAULT_LABELS)
    if not isinstance(labels, dict) or not labels:
        raise StagesError([*problems, "stages.labels: needs at least one stage (key = label)"])
    clean: dict[str, str] = {}
    for key, label in labels.items():
        if not isinstance(label, str) or not label.strip():
            problems.append(f"stages.labels.{key}: the label must be text")
        elif len(key) > 20:
            problems.append(f"stages.labels.{key}: a key has at most 20 characters")
        else:
            clean[key] = label.strip()
    if len(set(clean.values())) != len(clean):
        problems.append("stages.labels: two stages share a label")
    won = raw.get("won", DEFAULT_WON)
    if won not in clean:
        problems.append(f"stages.won: {won!r} is not a key of stages.labels")
    mapping = raw.get("from_progress", DEFAULT_FROM_PROGRESS)
    if not isinstance(mapping, dict):
        problems.append("stages.from_progress: must be a table (core progress = stage key)")
        mapping = {}
    for progress, stage in mapping.items():
        if stage not in clean:
            problems.append(f"stages.from_progress.{progress}: {stage!r} is not a key of stages.labels")
    if problems:
        raise StagesError(problems)
    return Stages(clean, str(won), {str(k): str(v) for k, v in mapping.items()})


def load_stages(path: Path) -> Stages:
    """The stages of a forms file (defaults when it has no ``[stages]`` table)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StagesError([f"{path}: {exc}"]) from exc
    return parse_stages(data.get("stages"))
