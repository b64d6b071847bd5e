"""Form definitions as data (``config/forms.toml``): a company renames fields and options without code."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from simpleeval import EvalWithCompoundTypes, NameNotDefined

from domain.stages import StagesError, parse_stages

KNOWN_TYPES = {
    "choice",
    "multi",
    "text",
    "number",
    "money",
    "date",
    "datetime",
    "voice_quote",
    "photo",
    "group",
    "confirm",
}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: str
    prompt: str
    required: bool = True
    when: str | None = Field(None, description="Ask only when this expression over earlier answers is true.")
    help: str = ""
    options: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_error: str = ""
    min_items: int = 0
    max_items: int | None = None
    more_prompt: str = "还要继续添加吗？"
    fields: list[FieldSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.type in {"choice", "multi"} and not self.options:
            raise ValueError("needs options")
        if len(set(self.options)) != len(self.options):
            raise ValueError("options repeat")
        if self.type == "group":
            if not self.fields:
                raise ValueError("a group needs fields")
            if self.max_items is not None and self.max_items < max(self.min_items, 1):
                raise ValueError("max_items is below min_items")
        elif self.fields:
            raise ValueError("only a group has fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        if self.pattern is not None:
            import re

            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return self


class FormSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    intro: str = ""
    done_message: str = ""
    on_complete: str | None = None
    expire_hours: float | None = Field(None, gt=0)
    fields: list[FieldSpec]

    def field(self, key: str) -> FieldSpec:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


class FormsFileError(ValueError):
    """The forms file is broken; ``problems`` name the form and field of each."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _check_when(expr: str, known: set[str]) -> str | None:
    evaluator = EvalWithCompoundTypes(names={k: None for k in known})
    try:
        evaluator.parse(expr)
    except SyntaxError as exc:
        return f"condition {expr!r} is not a valid expression ({exc.msg})"
    try:
        evaluator.eval(expr)
    except NameNotDefined as exc:
        return f"condition {expr!r} refers to {exc.name!r}, which is not an earlier field"
    except Exception:
        pass
    return None


def _check_fields(
    form: str, fields: list[FieldSpec], known: set[str], problems: list[str], where: str
) -> None:
    seen: set[str] = set()
    for f in fields:
        label = f"form {form}, field {where}{f.key}"
        if f.key in seen:
            problems.append(f"{label}: the key is used twice")
        seen.add(f.key)
        if f.type not in KNOWN_TYPES and f.type not in _extra_types:
            problems.append(f"{label}: unknown type {f.type!r} (known: {', '.join(sorted(KNOWN_TYPES))})")
        if f.when:
            problem = _check_when(f.when, known)
            if problem:
                problems.append(f"{label}: {problem}")
        if f.type == "group":
            _check_fields(form, f.fields, known | seen, problems, f"{where}{f.key}.")
        known = known | {f.key}


_extra_types: set[str] = set()


def register_type_name(name: str) -> None:
    """Field types added by feature modules (e.g. ``customer``) are declared here."""
    _extra_types.add(name)


def parse_forms(data: dict[str, Any], path: Path) -> dict[str, FormSpec]:
    problems: list[str] = []
    forms: dict[str, FormSpec] = {}
    raw_forms = data.get("forms")
    if not isinstance(raw_forms, dict) or not raw_forms:
        raise FormsFileError(path, ["no [forms.<name>] tables found"])
    unknown_top = set(data) - {"forms", "stages"}
    if unknown_top:
        problems.append(f"unknown top-level keys: {', '.join(sorted(unknown_top))}")
    try:
        parse_stages(data.get("stages"))
    except StagesError as exc:
        problems.extend(exc.problems)
    for name, body in raw_forms.items():
        if not isinstance(body, dict):
            problems.append(f"form {name}: must be a table")
            continue
        try:
            spec = FormSpec(name=name, **body)
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                label = f"form {name}"
                if loc[:1] == ["fields"] and len(loc) > 1 and isinstance(loc[1], int):
                    fields = body.get("fields", [])
                    idx = loc[1]
                    key = fields[idx].get("key", f"#{idx + 1}") if idx < len(fields) else f"#{idx + 1}"
                    label += f", field {key}"
                    loc = loc[2:]
                    while len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int):
                        loc = loc[2:]
                where = ".".join(str(p) for p in loc)
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{label}: {where + ': ' if where else ''}{msg}")
            continue
        _check_fields(name, spec.fields, set(), problems, "")
        forms[name] = spec
    if problems:
        raise FormsFileError(path, problems)
    return forms


def load_forms(path: Path) -> dict[str, FormSpec]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FormsFileError(Path(path), ["file not found"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise FormsFileError(Path(path), [f"not valid TOML: {exc}"]) from exc
    return parse_forms(data, Path(path))
