"""Choice prompts as interactive cards (card instances with ``callbackType: STREAM``, the only kind whose
clicks come back over the Stream connection).

The card template (made once in DingTalk's card platform, id in ``dingtalk.card_template_id``) receives
these string variables in ``cardParamMap``:

==========  ==================================================================================
markdown    the whole prompt as text, options numbered, ending in 「回复 1–N」 (the typed fallback)
prompt      the question; ``note`` an optional hint
options     JSON list ``[{"index": "1", "text": "…"}, …]`` for a button/list component
multi       ``"true"`` for multiple choice
hint        「回复 1–N」
submitted   ``"false"``; a click answers ``"true"`` so the template can grey the card out
selected    after a click (private to the clicker): the chosen numbers, e.g. ``"1,3"``
==========  ==================================================================================

A click's ``cardPrivateData.params`` may carry the choice as ``{"option": "2"}`` (a button per option),
``{"options": ["1", "3"]}`` (a submit button), or a select component's ``{"select": {"index": 1}}`` /
``{"multiSelect": {"index": [0, 2]}}`` (0-based). ``outTrackId`` is ``<choice token>~<hash of the
outbox key>``: the token comes back as the event's ``card_id``; a retried send reuses the same id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.escape import card_text
from core.messages import Choice, choice_hint, render_text

SEP = "~"


def out_track_id(token: str, key: str) -> str:
    return f"{token}{SEP}{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def card_id_from(out_track: str) -> str:
    return out_track.rsplit(SEP, 1)[0] if SEP in out_track else out_track


def card_params(choice: Choice) -> dict[str, str]:
    choice = Choice(
        prompt=card_text(choice.prompt),
        options=[card_text(o) for o in choice.options],
        multi=choice.multi,
        token=choice.token,
        note=card_text(choice.note),
    )
    options = [{"index": str(i), "text": text} for i, text in enumerate(choice.options, 1)]
    return {
        "markdown": render_text(choice),
        "prompt": choice.prompt,
        "note": choice.note,
        "options": json.dumps(options, ensure_ascii=False),
        "multi": "true" if choice.multi else "false",
        "hint": choice_hint(choice),
        "submitted": "false",
    }


def card_request(
    *, template_id: str, robot_code: str, choice: Choice, kind: str, address: str, track: str
) -> dict[str, Any]:
    """The ``POST /v1.0/card/instances/createAndDeliver`` body for a user (1:1) or a group."""
    body: dict[str, Any] = {
        "cardTemplateId": template_id,
        "outTrackId": track,
        "callbackType": "STREAM",
        "cardData": {"cardParamMap": card_params(choice)},
        "userIdType": 1,
    }
    if kind == "user":
        body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{address}"
        body["imRobotOpenSpaceModel"] = {"supportForward": False}
        body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": robot_code}
    else:
        body["openSpaceId"] = f"dtv1.card//IM_GROUP.{address}"
        body["imGroupOpenSpaceModel"] = {"supportForward": False}
        body["imGroupOpenDeliverModel"] = {"robotCode": robot_code}
    return body


def delivered(response: dict[str, Any]) -> bool:
    """createAndDeliver answers 200 even when delivery failed; look inside."""
    if response.get("success") is False:
        return False
    results = (response.get("result") or {}).get("deliverResults")
    if not isinstance(results, list) or not results:
        return True
    return all(r.get("success") is not False for r in results if isinstance(r, dict))


def _number(value: Any, *, zero_based: bool = False) -> str | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return str(n + 1 if zero_based else n)


def chosen_values(params: dict[str, Any]) -> list[str]:
    """The 1-based option numbers a click chose (see the module docstring for the shapes)."""
    values: list[str | None] = []
    if "option" in params:
        values.append(_number(params["option"]))
    if isinstance(params.get("options"), list):
        values += [_number(v) for v in params["options"]]
    select = params.get("select")
    if isinstance(select, dict) and "index" in select:
        values.append(_number(select["index"], zero_based=True))
    multi = params.get("multiSelect")
    if isinstance(multi, dict) and isinstance(multi.get("index"), list):
        values += [_number(v, zero_based=True) for v in multi["index"]]
    return [v for v in values if v is not None]


def click_response(values: list[str]) -> dict[str, Any]:
    """What the callback's ACK tells DingTalk to show: the card is answered; the clicker sees their pick."""
    return {
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        "cardData": {"cardParamMap": {"submitted": "true"}},
        "userPrivateData": {"cardParamMap": {"selected": ",".join(values)}},
    }
