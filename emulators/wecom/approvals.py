"""``oa/getapprovaldetail`` fixtures in the shape WeCom returns.

Real responses carry empty arrays for every unrelated value key (``tips``, ``members``, ``files``…),
so every control built here carries them too: a parser that picks "the non-empty key" instead of
reading by ``control`` fails against these fixtures just as it would in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zlib import crc32

NOISE_KEYS = (
    "tips",
    "members",
    "departments",
    "files",
    "children",
    "stat_field",
    "sum_field",
    "related_approval",
    "students",
    "classes",
)


def _cid(title: str) -> int:
    return crc32(title.encode()) % 100000


def _control(control: str, cid: str, title: str, value: dict[str, Any]) -> dict[str, Any]:
    full: dict[str, Any] = {key: [] for key in NOISE_KEYS}
    full.update(value)
    return {
        "control": control,
        "id": cid,
        "title": [{"text": title, "lang": "zh_CN"}, {"text": f"{title} (en)", "lang": "en"}],
        "value": full,
    }


def text(title: str, value: str, *, multiline: bool = False) -> dict[str, Any]:
    return _control("Textarea" if multiline else "Text", f"Text-{_cid(title)}", title, {"text": value})


def date(title: str, timestamp: int, *, kind: str = "hour") -> dict[str, Any]:
    """A ``Date`` control; ``kind`` ``"day"`` or ``"hour"``; ``timestamp`` in epoch seconds."""
    return _control(
        "Date",
        f"Date-{_cid(title)}",
        title,
        {"date": {"type": kind, "s_timestamp": str(timestamp)}},
    )


def date_range(title: str, begin: int, end: int, *, kind: str = "hour") -> dict[str, Any]:
    return _control(
        "DateRange",
        f"DateRange-{_cid(title)}",
        title,
        {"date_range": {"type": kind, "new_begin": begin, "new_end": end, "new_duration": end - begin}},
    )


def selector(title: str, options: Sequence[str], *, multi: bool = False) -> dict[str, Any]:
    return _control(
        "Selector",
        f"Selector-{_cid(title)}",
        title,
        {
            "selector": {
                "type": "multi" if multi else "single",
                "options": [
                    {"key": f"option-{i}", "value": [{"text": o, "lang": "zh_CN"}]}
                    for i, o in enumerate(options, 1)
                ],
            }
        },
    )


def number(title: str, value: str) -> dict[str, Any]:
    return _control("Number", f"Number-{_cid(title)}", title, {"new_number": value})


def contact(title: str, members: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return _control(
        "Contact",
        f"Contact-{_cid(title)}",
        title,
        {"members": [{"userid": u, "name": n} for u, n in members]},
    )


def tips(title: str) -> dict[str, Any]:
    return _control("Tips", f"Tips-{_cid(title)}", title, {})


def detail(
    *,
    sp_no: str,
    template_id: str,
    applicant: str,
    sp_status: int,
    contents: Sequence[dict[str, Any]],
    sp_name: str = "客户拜访申请",
    apply_time: int = 1_700_000_000,
) -> dict[str, Any]:
    """The ``info`` object of an ``oa/getapprovaldetail`` answer."""
    return {
        "sp_no": sp_no,
        "sp_name": sp_name,
        "sp_status": sp_status,
        "template_id": template_id,
        "apply_time": apply_time,
        "applyer": {"userid": applicant, "partyid": "1"},
        "sp_record": [
            {
                "sp_status": sp_status,
                "approverattr": 1,
                "details": [
                    {
                        "approver": {"userid": "manager1"},
                        "speech": "",
                        "sp_status": sp_status,
                        "sptime": 0,
                        "media_id": [],
                    }
                ],
            }
        ],
        "notifyer": [],
        "apply_data": {"contents": list(contents)},
        "comments": [],
    }
