"""The channel's pure parts: time parsing, field mapping, click values, signatures, audio sniffing."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from bot.channels.dingtalk import approvals, cards, parse, webhook
from bot.channels.dingtalk.api import ApiError, classify, classify_oapi
from config.settings import ApprovalMapping
from core.channel import PermanentSendError, TransientSendError
from core.events import TextEvent, VoiceEvent
from core.messages import Choice
from domain.audio import sniff_audio_format

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026-11-28 14:00", "2026-11-28T14:00:00+08:00"),
        ("2026-11-28 14:00:30", "2026-11-28T14:00:30+08:00"),
        ("2026-11-28", "2026-11-28T00:00:00+08:00"),
        ("2026-11-28T06:00Z", "2026-11-28T14:00:00+08:00"),
        ("2026-11-28T14:00:00+08:00", "2026-11-28T14:00:00+08:00"),
        ("1795845600000", "2026-11-28T14:00:00+08:00"),
        ("下周二下午", None),
        ("2026-13-40 10:00", None),
    ],
)
def test_form_times_become_iso_with_offset(raw: str, iso: str | None) -> None:
    assert approvals.parse_time(raw, SH) == iso


def test_fields_are_matched_by_label_or_alias_not_position() -> None:
    instance = {
        "formComponentValues": [
            {"name": "拜访事由", "value": "演示新设备"},
            {"name": "其他", "bizAlias": "客户名称", "value": '["市一院","市二院"]'},
            {"name": "拜访开始时间", "value": ""},
        ]
    }
    fields = approvals.map_fields(instance, ApprovalMapping(), SH)
    assert fields == {"customer": "市一院、市二院", "purpose": "演示新设备"}


def test_status_mapping() -> None:
    assert [
        approvals.status_of(t, r)
        for t, r in [
            ("start", None),
            ("finish", "agree"),
            ("finish", "refuse"),
            ("terminate", None),
            ("delete", None),
            ("finish", "redirect"),
            ("comment", None),
        ]
    ] == ["submitted", "approved", "refused", "withdrawn", "deleted", None, None]


@pytest.mark.parametrize(
    ("params", "values"),
    [
        ({"option": "2"}, ["2"]),
        ({"option": 3}, ["3"]),
        ({"options": ["1", 3]}, ["1", "3"]),
        ({"select": {"index": 0, "value": "甲"}}, ["1"]),
        ({"multiSelect": {"index": [0, 2]}}, ["1", "3"]),
        ({"action": "like"}, []),
        ({"option": "x"}, []),
    ],
)
def test_click_values_are_one_based(params: dict[str, object], values: list[str]) -> None:
    assert cards.chosen_values(params) == values


def test_the_choice_token_survives_the_out_track_id() -> None:
    track = cards.out_track_id("f12.3", "reply:dingtalk:msg1:1")
    assert cards.card_id_from(track) == "f12.3" and track != cards.out_track_id("f12.3", "other")


def test_card_parameters_are_all_strings_with_the_text_fallback() -> None:
    choice = Choice(prompt="类型？", options=["甲", "乙", "丙", "丁"], token="f1.1")
    params = cards.card_params(choice)
    assert all(isinstance(v, str) for v in params.values())
    assert params["markdown"].endswith("回复 1–4") and params["hint"] == "回复 1–4"


def test_webhook_signature_matches_the_documented_vector() -> None:
    assert (
        webhook.sign("SEC0123456789abcdef", 1700000000000)
        == "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
    )


def test_webhook_answers_become_the_right_errors() -> None:
    webhook.check("t", 200, {"errcode": 0, "errmsg": "ok"})
    with pytest.raises(TransientSendError) as throttled:
        webhook.check("t", 200, {"errcode": 130101, "errmsg": "send too fast"})
    assert throttled.value.retry_after == 600 and throttled.value.block_key == webhook.rate_key("t")
    with pytest.raises(PermanentSendError):
        webhook.check("t", 200, {"errcode": 310000, "errmsg": "sign not match"})
    with pytest.raises(TransientSendError):
        webhook.check("t", 502, {"message": "bad gateway"})


def test_api_errors_are_classified() -> None:
    qps = classify(403, {"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"})
    assert isinstance(qps, ApiError) and qps.transient and qps.retry_after == 1.0
    quota = classify(403, {"code": "Forbidden.AccessDenied.ApiCountLimitForOrg"})
    assert quota is not None and quota.transient and quota.retry_after == 3600
    bad = classify(400, {"code": "invalidParameter.msgKey"})
    assert bad is not None and not bad.transient
    assert classify(200, {}) is None
    busy = classify_oapi({"errcode": 90018, "errmsg": "too fast"})
    assert busy is not None and busy.transient


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"#!AMR\n\x3c", "amr"),
        (b"#!AMR-WB\n", "amr-wb"),
        (b"OggS\x00\x02", "ogg"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04", "mp3"),
        (b"\x00\x00\x00\x20ftypM4A ", "m4a"),
        (b"#!SILK_V3", "silk"),
        (b"\x00\x01\x02", ""),
    ],
)
def test_audio_formats_are_recognised_from_their_bytes(head: bytes, fmt: str) -> None:
    assert sniff_audio_format(head + bytes(32)) == fmt


def test_audio_without_magic_falls_back_to_the_content_type() -> None:
    assert sniff_audio_format(b"\x00" * 32, "audio/ogg; codecs=opus") == "ogg"


def test_robot_payloads_become_events() -> None:
    base = {
        "msgId": "m1",
        "senderStaffId": "s1",
        "senderNick": "王磊",
        "conversationType": "1",
        "conversationId": "cid1",
        "createAt": 1795845600000,
    }
    [text] = parse.robot_events({**base, "msgtype": "text", "text": {"content": " 你好 "}}, "x")
    assert isinstance(text, TextEvent) and text.text == "你好" and text.event_id == "m1"
    assert text.occurred_at is not None and not text.is_group
    audio = {**base, "msgtype": "audio", "content": {"downloadCode": "dl", "duration": 4000}}
    [voice] = parse.robot_events(audio, "x")
    assert isinstance(voice, VoiceEvent) and voice.platform_recognition is None and voice.duration_ms == 4000
    with pytest.raises(parse.Malformed):
        parse.robot_events({**base, "msgtype": "audio", "content": {}}, "x")
    with pytest.raises(parse.Malformed):
        parse.robot_events({k: v for k, v in base.items() if k != "senderStaffId"} | {"msgtype": "text"}, "x")


def test_a_card_callback_becomes_a_card_action() -> None:
    content = json.dumps({"cardPrivateData": {"actionIds": ["btn"], "params": {"option": "2"}}})
    event = parse.card_event({"outTrackId": "f3.1~abcd", "userId": "s1", "content": content}, "mid-1")
    assert (event.card_id, event.values, event.sender_id, event.event_id) == (
        "f3.1",
        ["2"],
        "s1",
        "card:mid-1",
    )


async def test_the_throttle_holds_each_api_to_its_rate_and_apis_apart() -> None:
    import asyncio

    from bot.channels.dingtalk.api import Throttle

    throttle = Throttle(calls=5, per_s=30.0)
    for _ in range(5):
        await asyncio.wait_for(throttle.wait("oto"), 5)
    with pytest.raises(TimeoutError):  # the sixth call must wait for the window
        await asyncio.wait_for(throttle.wait("oto"), 0.05)
    await asyncio.wait_for(throttle.wait("card"), 5)  # another API is not held up by a full one
