"""Template cards for :class:`core.messages.Choice`, and the ``task_id`` that carries its token.

* single choice, ≤ 6 options → ``button_interaction`` (button key = option number);
* multiple choice, or more than 6 options → ``vote_interaction`` (checkbox ids = option numbers;
  ``mode`` 1 for multi, 0 for single);
* more than 20 options, or a prompt too long for a card → no card (the caller sends text).

A clicked option comes back as its 1-based number, which is what ``CardActionEvent.values`` holds.
Every card also shows the "回复 1–N" hint, so typing the number works as well as clicking.

``task_id`` may use ``[0-9A-Za-z_-@]`` and 128 bytes and must be unique per app. It is the token,
with other characters escaped as ``_hh`` (UTF-8 bytes in hex), then ``@`` and a digest of the
message's idempotency key (unique per message, stable across retries). A token too long for that is
replaced by ``_h`` + its digest, and the channel's store maps it back.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

from core.escape import plain_text
from core.messages import Choice, choice_hint

KEEP = frozenset(string.ascii_letters + string.digits + "-")
TASK_ID_MAX = 128
SUFFIX_LEN = 10
HASHED = "_h"

TITLE_MAX = 26  # 一级标题，建议不超过 26 个字
SUB_TITLE_MAX = 112  # 二级普通文本，建议不超过 112 个字
BUTTON_TEXT_MAX = 10
BUTTONS_MAX = 6
VOTE_OPTIONS_MAX = 20
OPTION_TEXT_MAX = 20
SUBMIT_KEY = "submit"
QUESTION_KEY = "q"


def _digest(value: str, n: int) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:n]


def encode_token(token: str) -> str:
    return "".join(c if c in KEEP else "".join(f"_{b:02x}" for b in c.encode()) for c in token)


def decode_token(encoded: str) -> str | None:
    out = bytearray()
    i = 0
    while i < len(encoded):
        c = encoded[i]
        if c == "_":
            pair = encoded[i + 1 : i + 3]
            if len(pair) != 2 or not all(ch in string.hexdigits for ch in pair):
                return None
            out.append(int(pair, 16))
            i += 3
        elif c in KEEP:
            out.append(ord(c))
            i += 1
        else:
            return None
    try:
        return out.decode()
    except UnicodeDecodeError:
        return None


def task_id_for(token: str, key: str) -> tuple[str, bool]:
    """``(task_id, needs_store)``: ``needs_store`` when the token had to be hashed."""
    suffix = _digest(key, SUFFIX_LEN)
    encoded = encode_token(token)
    if len(encoded) + 1 + SUFFIX_LEN <= TASK_ID_MAX:
        return f"{encoded}@{suffix}", False
    return f"{HASHED}{_digest(token, 40)}@{suffix}", True


def token_from_task_id(task_id: str) -> str | None:
    """The token inside a ``task_id`` built by :func:`task_id_for`; None if hashed or foreign."""
    encoded, sep, _ = task_id.rpartition("@")
    if not sep or encoded.startswith(HASHED):
        return None
    return decode_token(encoded)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def choice_card(choice: Choice, task_id: str) -> dict[str, Any] | None:
    """The ``template_card`` for ``choice``, or None when it should go as text."""
    choice = Choice(
        prompt=plain_text(choice.prompt),
        options=[plain_text(o) for o in choice.options],
        multi=choice.multi,
        token=choice.token,
        note=plain_text(choice.note),
    )
    n = len(choice.options)
    if n == 0 or n > VOTE_OPTIONS_MAX:
        return None
    first, *rest = choice.prompt.splitlines() or [""]
    lines = [*rest]
    if len(first) > TITLE_MAX:
        lines.insert(0, first)
    if choice.note:
        lines.append(choice.note)
    lines += [f"{i}. {opt}" for i, opt in enumerate(choice.options, 1)]
    lines.append(choice_hint(choice) + "，或点击下方选项")
    body = "\n".join(line for line in lines if line.strip())
    if len(body) > SUB_TITLE_MAX:
        return None
    card: dict[str, Any] = {
        "main_title": {"title": _short(first, TITLE_MAX)},
        "sub_title_text": body,
        "task_id": task_id,
    }
    if not choice.multi and n <= BUTTONS_MAX:
        card["card_type"] = "button_interaction"
        card["button_list"] = [
            {"text": _short(f"{i}. {opt}", BUTTON_TEXT_MAX), "style": 1, "key": str(i)}
            for i, opt in enumerate(choice.options, 1)
        ]
        return card
    card["card_type"] = "vote_interaction"
    card["checkbox"] = {
        "question_key": QUESTION_KEY,
        "mode": 1 if choice.multi else 0,
        "option_list": [
            {"id": str(i), "text": _short(f"{i}. {opt}", OPTION_TEXT_MAX), "is_checked": False}
            for i, opt in enumerate(choice.options, 1)
        ],
    }
    card["submit_button"] = {"text": "提交", "key": SUBMIT_KEY}
    return card


def clicked_label(options: list[str], values: list[str]) -> str:
    """The text the clicked button turns into: "已选：交付延迟", or "已提交" when unknown."""
    chosen = [options[int(v) - 1] for v in values if v.isdigit() and 1 <= int(v) <= len(options)]
    if not chosen:
        return "已提交"
    return _short("已选：" + "、".join(chosen), 16)


def update_payload(userid: str, response_code: str, label: str) -> dict[str, Any]:
    """``message/update_template_card`` body that replaces the button text for ``userid``."""
    return {
        "userids": [userid],
        "partyids": [],
        "tagids": [],
        "atall": 0,
        "response_code": response_code,
        "button": {"replace_name": label},
    }
