"""Bounded fuzzing (Hypothesis): the WeCom callback parser and the name normaliser never crash.

Each property runs a fixed number of examples with a deadline, so the file stays within a few seconds.
"""

from __future__ import annotations

import unicodedata
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.wecom import cards
from bot.channels.wecom.parse import MalformedCallback, UnreadableXml, load_xml, parse
from domain.names import normalize
from domain.safe_text import BadText, clean_name, is_invisible, tidy_name

BOUNDED = settings(max_examples=300, deadline=200, suppress_health_check=[HealthCheck.too_slow])

FIELDS = (
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "MediaId",
    "Format",
    "Event",
    "EventKey",
    "TaskId",
    "ResponseCode",
    "CardType",
    "Location_X",
    "Location_Y",
    "AgentID",
)
MSG_TYPES = st.sampled_from(["text", "voice", "image", "file", "location", "event", "video", ""])
EVENTS = st.sampled_from(["enter_agent", "template_card_event", "sys_approval_change", "click", ""])
LEAF = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**22), max_value=10**22).map(str),
    MSG_TYPES,
    EVENTS,
)


def xml_text(value: str) -> str:
    cleaned = "".join(ch for ch in value if ch in "\t\n" or (ch >= " " and unicodedata.category(ch) != "Cs"))
    return escape(cleaned)


@st.composite
def callbacks(draw: st.DrawFn) -> str:
    parts = []
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=12)):
        parts.append(f"<{name}>{xml_text(draw(LEAF))}</{name}>")
    if draw(st.booleans()):
        parts.append("<ApprovalInfo><SpNo>1</SpNo><SpNo>2</SpNo></ApprovalInfo>")
    if draw(st.booleans()):
        parts.append(
            "<SelectedItems><SelectedItem><OptionIds><OptionId>1</OptionId></OptionIds></SelectedItem></SelectedItems>"
        )
    return "<xml>" + "".join(parts) + "</xml>"


@BOUNDED
@given(callbacks())
def test_wecom_callback_parser_refuses_or_parses(xml: str) -> None:
    try:
        root = load_xml(xml)
        parse(root, token_for_task=cards.token_from_task_id)
    except (UnreadableXml, MalformedCallback):
        pass  # both become HTTP 400


@BOUNDED
@given(st.text(max_size=60))
def test_name_normaliser_gives_one_visible_line_or_a_reason(raw: str) -> None:
    try:
        name = clean_name(raw)
    except BadText as exc:
        assert str(exc)  # a reason to show
        return
    assert name and name == name.strip() and "\n" not in name
    assert not any(unicodedata.category(ch) == "Cc" or is_invisible(ch) for ch in name)
    assert clean_name(name) == name  # stable: storing twice changes nothing
    assert normalize(name) == normalize(raw)  # the duplicate check sees through what was removed


@BOUNDED
@given(st.text(max_size=60))
def test_tidy_name_never_refuses_and_leaves_one_visible_line(raw: str) -> None:
    name = tidy_name(raw)
    assert "\n" not in name and name == name.strip()
    assert not any(unicodedata.category(ch) == "Cc" or is_invisible(ch) for ch in name)
