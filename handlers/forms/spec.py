"""Form definitions as data (``config/forms.toml``): a company renames fields and options without code."""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from simpleeval import EvalWithCompoundTypes, NameNotDefined

from domain.stages import StagesError, parse_stages


class FormContract(Protocol):
    """What a forms file is checked against: the field types and the answers each completer needs.

    ``handlers.registry.Registry`` is one; the forms file is valid only for the registry it is loaded
    with, whatever has been imported before."""

    @property
    def field_types(self) -> Mapping[str, object]: ...

    @property
    def answer_models(self) -> Mapping[str, type[BaseModel]]: ...


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


# What an answer of each built-in type looks like when a condition reads it (numbers and dates are
# stored as text). A condition is evaluated once with these at load, so ``amount > 100`` over a
# number field (text) is a config error, not a field skipped at run time. Types added by features are
# opaque to conditions (``None``): compare them only with ``==`` / ``!=``.
def _sample(spec: FieldSpec) -> Any:
    samples: dict[str, Any] = {
        "text": "文字",
        "number": "1",
        "money": "1.00",
        "date": "2026-01-01",
        "datetime": "2026-01-01T09:00:00+08:00",
        "confirm": True,
        "photo": {"media_id": 1, "sha256": ""},
        "voice_quote": {"quote_id": 1, "text": "文字"},
        "group": [],
    }
    if spec.type == "choice":
        return spec.options[0]
    if spec.type == "multi":
        return spec.options[:1]
    return samples.get(spec.type)


class ConditionError(ValueError):
    """A ``when`` condition cannot be evaluated over the answers it is given."""


def evaluate_when(expr: str, names: Mapping[str, Any]) -> bool:
    """Whether a field with condition ``expr`` is asked. A name not answered (skipped, or a field
    that did not apply) makes the condition false; any other failure raises ConditionError."""
    try:
        return bool(EvalWithCompoundTypes(names=dict(names)).eval(expr))
    except NameNotDefined:
        return False
    except Exception as exc:
        raise ConditionError(f"condition {expr!r} fails: {type(exc).__name__}: {exc}") from exc


def _check_when(expr: str, known: dict[str, Any]) -> str | None:
    evaluator = EvalWithCompoundTypes(names=dict(known))
    try:
        evaluator.parse(expr)
    except SyntaxError as exc:
        return f"condition {expr!r} is not a valid expression ({exc.msg})"
    try:
        evaluator.eval(expr)
    except NameNotDefined as exc:
        return f"condition {expr!r} refers to {exc.name!r}, which is not an earlier field"
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        return f"condition {expr!r} cannot be evaluated over answers of these fields' types ({why})"
    return None


def _check_fields(
    *,
    form: str,
    fields: list[FieldSpec],
    known: dict[str, Any],
    problems: list[str],
    where: str,
    types: Mapping[str, object],
) -> None:
    seen: set[str] = set()
    for f in fields:
        label = f"form {form}, field {where}{f.key}"
        if f.key in seen:
            problems.append(f"{label}: the key is used twice")
        seen.add(f.key)
        if f.type not in types:
            problems.append(f"{label}: unknown type {f.type!r} (known: {', '.join(sorted(types))})")
        if f.when:
            problem = _check_when(f.when, known)
            if problem:
                problems.append(f"{label}: {problem}")
        if f.type == "group":
            _check_fields(
                form=form,
                fields=f.fields,
                known={**known, f.key: _sample(f)},
                problems=problems,
                where=f"{where}{f.key}.",
                types=types,
            )
        known = {**known, f.key: _sample(f)}


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """``SubModel`` for an annotation ``list[SubModel]`` (a repeated group's items), else None."""
    for arg in typing.get_args(annotation) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        inner = _item_model(arg)
        if inner is not None:
            return inner
    return None


def _check_answers(
    *,
    form: str,
    action: str,
    model: type[BaseModel],
    fields: list[FieldSpec],
    problems: list[str],
    where: str,
) -> None:
    by_key = {f.key: f for f in fields}
    for name, info in model.model_fields.items():
        key = info.alias or name
        spec = by_key.get(key)
        if spec is None:
            problems.append(
                f"form {form}, field {where}{key}: on_complete {action!r} reads this answer, but the form "
                f"has no field {key!r} (was it renamed?)"
            )
            continue
        item = _item_model(info.annotation)
        if item is not None and spec.type == "group":
            _check_answers(
                form=form,
                action=action,
                model=item,
                fields=spec.fields,
                problems=problems,
                where=f"{where}{key}.",
            )


def parse_forms(data: dict[str, Any], path: Path, contract: FormContract) -> dict[str, FormSpec]:
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
        _check_fields(
            form=name,
            fields=spec.fields,
            known={},
            problems=problems,
            where="",
            types=contract.field_types,
        )
        model = contract.answer_models.get(spec.on_complete or "")
        if model is not None and spec.on_complete:
            _check_answers(
                form=name,
                action=spec.on_complete,
                model=model,
                fields=spec.fields,
                problems=problems,
                where="",
            )
        forms[name] = spec
    if problems:
        raise FormsFileError(path, problems)
    return forms


def load_forms(path: Path, contract: FormContract) -> dict[str, FormSpec]:
    """The forms file checked against ``contract`` (the registry the application runs with)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FormsFileError(Path(path), ["file not found"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise FormsFileError(Path(path), [f"not valid TOML: {exc}"]) from exc
    return parse_forms(data, Path(path), contract)
