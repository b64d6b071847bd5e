"""The forms file is checked against the registry it runs with: field types, typed answers, conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.core import check_forms
from bot.testing import make_settings
from config.settings import FormsSettings
from handlers.forms.engine import _applicable
from handlers.forms.spec import ConditionError, FieldSpec, FormsFileError, evaluate_when, load_forms
from handlers.registry import Registry, build_registry

SHIPPED = FormsSettings().path.read_text(encoding="utf-8")


def _forms_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "forms.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(FormsFileError) as info:
        load_forms(_forms_file(tmp_path, text), build_registry())
    return "\n".join(info.value.problems)


def test_shipped_forms_match_every_completers_answers() -> None:
    registry = build_registry()
    assert {"trial_feedback", "customer_profile", "demand_confirmation"} <= set(registry.answer_models)
    load_forms(FormsSettings().path, registry)  # raises on any mismatch


def test_renamed_key_is_a_config_error_naming_form_and_field(tmp_path: Path) -> None:
    text = SHIPPED.replace('key = "pain_points"', 'key = "pains"', 1)
    assert text != SHIPPED
    problems = _problems(tmp_path, text)
    assert (
        "form trial_feedback, field pain_points: on_complete 'trial_feedback' reads this answer" in problems
    )


def test_renamed_key_inside_a_group_names_the_group(tmp_path: Path) -> None:
    head, sep, tail = SHIPPED.partition("[forms.key_person]")
    text = head.replace('key = "title"', 'key = "job"', 1) + sep + tail
    problems = _problems(tmp_path, text)
    assert "form customer, field key_persons.title:" in problems
    assert "form key_person" not in problems


def test_check_config_reports_a_renamed_key(tmp_path: Path) -> None:
    path = _forms_file(tmp_path, SHIPPED.replace('key = "scenario"', 'key = "situation"', 1))
    settings = make_settings(tmp_path, forms={"path": str(path)})
    problems = "\n".join(check_forms(settings))
    assert "form demand_confirmation, field scenario:" in problems


BROKEN_WHEN = """
[forms.order]
title = "订单"
[[forms.order.fields]]
key = "amount"
type = "number"
prompt = "金额？"
[[forms.order.fields]]
key = "approver"
type = "text"
prompt = "审批人？"
when = "amount > 100000"
"""


def test_condition_that_cannot_run_is_a_config_error(tmp_path: Path) -> None:
    # A number answer is stored as text: `amount > 100000` compares text with a number. Before, the
    # field was skipped silently on every run.
    problems = _problems(tmp_path, BROKEN_WHEN)
    assert "form order, field approver: condition 'amount > 100000' cannot be evaluated" in problems
    settings = make_settings(tmp_path, forms={"path": str(_forms_file(tmp_path, BROKEN_WHEN))})
    assert any("field approver" in p for p in check_forms(settings))
    unknown = BROKEN_WHEN.replace("amount > 100000", "decimal(amount) > 100000")
    with pytest.raises(FormsFileError, match="decimal"):
        load_forms(_forms_file(tmp_path, unknown), build_registry())
    fixed = BROKEN_WHEN.replace("amount > 100000", "float(amount) > 100000")
    assert "order" in load_forms(_forms_file(tmp_path, fixed), build_registry())


def test_broken_condition_at_run_time_raises_instead_of_skipping() -> None:
    spec = FieldSpec(key="approver", type="text", prompt="?", when="amount > 100000")
    with pytest.raises(ConditionError, match="amount > 100000"):
        _applicable(spec, {"amount": "120000"})
    assert _applicable(spec, {}) is False  # not answered (skipped): the field does not apply
    assert evaluate_when("amount == '1'", {"amount": "1"}) is True


def test_a_registry_knows_only_the_field_types_of_its_features(tmp_path: Path) -> None:
    # Field types live on the registry, not in module globals: building the full registry first must
    # not make a bare one accept the features' types (the old import-order dependence).
    build_registry()
    problems = ""
    try:
        load_forms(FormsSettings().path, Registry())
    except FormsFileError as exc:
        problems = "\n".join(exc.problems)
    assert "form trial_feedback, field product_code: unknown type 'product_code'" in problems
    bare, full = Registry(), build_registry()
    assert "customer" in full.field_types and "customer" not in bare.field_types
    with pytest.raises(ValueError, match="registered twice"):
        full.field_type("customer", full.field_types["customer"])
