"""The token of a form question's card: ``f<state id>.<question number>``.

Card tokens starting with :data:`FORM_TOKEN_PREFIX` belong to the form engine; feature card prefixes
must not start with it, and a number typed after a card answers only a card that is not a form's.
"""

from __future__ import annotations

FORM_TOKEN_PREFIX = "f"


def form_token(state_id: int, seq: int) -> str:
    return f"{FORM_TOKEN_PREFIX}{state_id}.{seq}"


def is_form_token(token: str) -> bool:
    return token.startswith(FORM_TOKEN_PREFIX)
