"""Decrypted XML → neutral events, including the shapes xmltodict makes awkward."""

from __future__ import annotations

import pytest

from bot.channels.wecom import cards
from bot.channels.wecom.parse import (
    ApprovalChange,
    Click,
    Ignored,
    Ready,
    UnreadableXml,
    as_list,
    load_xml,
    parse,
    selected_options,
)
from core.events import CardActionEvent, EnterEvent, LocationEvent, TextEvent, VoiceEvent
from emulators.wecom import samples

CORP, AGENT = "ww5823bf96d3bd56c7", 1000002


def parsed(xml: str) -> object:
    return parse(load_xml(xml), token_for_task=cards.token_from_task_id)


def test_text_voice_location_and_enter() -> None:
    text = parsed(samples.text(CORP, AGENT, "zhangsan", "你好 ]]> 世界", msg_id=123, create_time=1700000000))
    assert isinstance(text, Ready) and isinstance(text.event, TextEvent)
    assert text.event.text == "你好 ]]> 世界" and text.event.event_id == "msg:123"
    assert text.event.sender_id == "zhangsan" and text.event.occurred_at is not None

    voice = parsed(samples.voice(CORP, AGENT, "zhangsan", "MEDIA1", msg_id=5, create_time=1))
    assert isinstance(voice, Ready) and isinstance(voice.event, VoiceEvent)
    assert voice.event.media.token == "MEDIA1" and voice.event.format == "amr"
    assert voice.event.media.filename.endswith(".amr")

    where = parsed(
        samples.location(
            CORP, AGENT, "u", latitude=23.134, longitude=113.358, label="广州", msg_id=6, create_time=1
        )
    )
    assert isinstance(where, Ready) and isinstance(where.event, LocationEvent)
    assert (where.event.latitude, where.event.longitude, where.event.label) == (23.134, 113.358, "广州")

    enter = parsed(samples.enter_agent(CORP, AGENT, "lisi", create_time=1408091189))
    assert isinstance(enter, Ready) and isinstance(enter.event, EnterEvent)
    assert enter.event.event_id == "evt:lisi:1408091189:enter_agent"


def test_approval_event_keys_tell_same_second_approvals_apart() -> None:
    a = parsed(
        samples.approval_change(
            CORP,
            AGENT,
            sp_no="1",
            template_id="T",
            applicant="u",
            sp_status=1,
            status_change=1,
            create_time=9,
        )
    )
    b = parsed(
        samples.approval_change(
            CORP,
            AGENT,
            sp_no="2",
            template_id="T",
            applicant="u",
            sp_status=1,
            status_change=1,
            create_time=9,
            approvers=("m1", "m2"),  # repeated Details: a list in xmltodict
        )
    )
    assert isinstance(a, ApprovalChange) and isinstance(b, ApprovalChange)
    assert a.key != b.key and a.applicant == "u" and a.template_id == "T" and b.sp_no == "2"


@pytest.mark.parametrize("spelling", ["OptionIds", "OpitonIds"])
def test_card_click_options_in_both_spellings(spelling: str) -> None:
    task_id, _ = cards.task_id_for("f12.3", "form:12:3")
    xml = samples.card_click(
        CORP,
        AGENT,
        "u",
        task_id=task_id,
        event_key="submit",
        response_code="RC1",
        card_type="vote_interaction",
        create_time=5,
        selected=[("q", ["1", "3"])],
        spelling=spelling,
    )
    click = parsed(xml)
    assert isinstance(click, Click) and isinstance(click.event, CardActionEvent)
    assert click.event.card_id == "f12.3" and click.event.values == ["1", "3"]
    assert click.response_code == "RC1"
    single = samples.card_click(
        CORP,
        AGENT,
        "u",
        task_id=task_id,
        event_key="submit",
        response_code="RC2",
        card_type="vote_interaction",
        create_time=5,
        selected=[("q", ["2"])],  # one item, one option: dicts, not lists
        spelling=spelling,
    )
    assert selected_options(load_xml(single)) == ["2"]


def test_button_click_and_foreign_cards() -> None:
    task_id, _ = cards.task_id_for("f7.1", "k")
    click = parsed(
        samples.card_click(
            CORP,
            AGENT,
            "u",
            task_id=task_id,
            event_key="2",
            response_code="RC",
            card_type="button_interaction",
            create_time=5,
        )
    )
    assert isinstance(click, Click) and click.event.values == ["2"] and click.event.card_id == "f7.1"
    foreign = parsed(
        samples.card_click(
            CORP,
            AGENT,
            "u",
            task_id="someone-else",
            event_key="x",
            response_code="R",
            card_type="x",
            create_time=5,
        )
    )
    assert isinstance(foreign, Ignored)


def test_unhandled_things_are_ignored_not_errors() -> None:
    for xml in (
        samples.event(CORP, AGENT, "u", "LOCATION", create_time=1, extra="<Latitude>1</Latitude>"),
        samples.event(
            CORP, AGENT, "sys", "change_contact", create_time=1, extra="<ChangeType>create_user</ChangeType>"
        ),
        "<xml><FromUserName>u</FromUserName><MsgType>video</MsgType><MsgId>1</MsgId></xml>",
        "<xml><MsgType>text</MsgType></xml>",
    ):
        assert isinstance(parsed(xml), Ignored)


def test_task_ids_round_trip_and_stay_within_wecom_rules() -> None:
    for token in ("f12.3", "v:拜访/7", "plain-token", "a_b@c", "x" * 100):
        task_id, hashed = cards.task_id_for(token, "key-1")
        assert len(task_id.encode()) <= 128
        assert set(task_id) <= set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-@")
        assert (cards.token_from_task_id(task_id) is None) == hashed
        if not hashed:
            assert cards.token_from_task_id(task_id) == token
    assert cards.task_id_for("f1.1", "a")[0] != cards.task_id_for("f1.1", "b")[0]  # unique per message


def test_as_list_and_unreadable_xml() -> None:
    assert as_list(None) == [] and as_list({"a": 1}) == [{"a": 1}] and as_list([1, 2]) == [1, 2]
    with pytest.raises(UnreadableXml):
        load_xml("<xml><unclosed></xml>")
    with pytest.raises(UnreadableXml):
        load_xml('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>')
    with pytest.raises(UnreadableXml):
        load_xml("<notxml/>")
