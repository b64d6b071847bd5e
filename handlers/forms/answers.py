"""Typed answers: what a completer reads from a finished form, declared as a pydantic model.

A completer registers its model with ``registry.completer(name, fn, answers=Model)`` and reads
``result.typed(Model)``. ``load_forms`` (and so ``actionflow check-config`` and the start) checks that
every form whose ``on_complete`` is that completer has a field for each attribute of the model, so
renaming a key in ``config/forms.toml`` is a config error naming the form and field, not an empty
value at run time. Answers the model does not name are ignored: a company may add fields.

The value shapes of the built-in field types are here; feature field types define theirs next to the
type (``CustomerValue`` in ``handlers.customer_field``, …).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Answers(BaseModel):
    """Base of a completer's answers: one attribute per form field it reads (with a default when the
    field is optional or conditional)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Value(BaseModel):
    """Base of a structured answer value (a dict in the stored answers)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class PhotoValue(Value):
    """``photo``: the stored media row."""

    media_id: int
    sha256: str = ""


class QuoteValue(Value):
    """``voice_quote``: the immutable ledger quote and its text."""

    quote_id: int | None = None
    text: str = ""
