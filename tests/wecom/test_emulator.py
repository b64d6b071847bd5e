"""The WeCom emulator behaves like the parts of WeCom the bot (and the organisation sync) rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from bot.channels.wecom.client import WeComClient
from emulators.wecom import WeComEmulator
from emulators.wecom import approvals as fx

CORP, SECRET, AGENT = "ww-emu", "emu-secret", 1000002


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[WeComEmulator]:
    with WeComEmulator(corp_id=CORP, secret=SECRET, agent_id=AGENT, clock=clock) as emulator:
        yield emulator


@pytest.fixture
def client(emu: WeComEmulator) -> WeComClient:
    return WeComClient(CORP, SECRET, api_base=emu.base_url, agent_id=AGENT, timeout=5)


def api(emu: WeComEmulator, method: str, path: str, token: str = "", **kwargs: Any) -> dict[str, Any]:
    params = dict(kwargs.pop("params", {}))
    if token:
        params["access_token"] = token
    res = requests.request(method, f"{emu.base_url}/cgi-bin/{path}", params=params, timeout=5, **kwargs)
    result: dict[str, Any] = res.json()
    return result


def token(emu: WeComEmulator) -> str:
    return str(api(emu, "GET", "gettoken", params={"corpid": CORP, "corpsecret": SECRET})["access_token"])


def test_tokens(emu: WeComEmulator, clock: Clock) -> None:
    assert api(emu, "GET", "gettoken", params={"corpid": "x", "corpsecret": SECRET})["errcode"] == 40013
    assert api(emu, "GET", "gettoken", params={"corpid": CORP, "corpsecret": "x"})["errcode"] == 40001
    assert api(emu, "POST", "message/send", json={})["errcode"] == 40014
    t = token(emu)
    emu.expire_tokens()
    assert api(emu, "POST", "message/send", t, json={})["errcode"] == 42001
    fresh = token(emu)
    assert api(emu, "POST", "message/send", fresh, json={})["errcode"] == 40056  # past the token check
    clock.t += 7201
    assert api(emu, "POST", "message/send", fresh, json={})["errcode"] == 42001


def test_message_send_checks_the_essentials(emu: WeComEmulator) -> None:
    t = token(emu)
    text = {"touser": "u1", "agentid": AGENT, "msgtype": "text", "text": {"content": "hi"}}
    assert api(emu, "POST", "message/send", t, data=b'{"touser": "u1"}')["errcode"] == 40056  # no agentid
    assert api(emu, "POST", "message/send", t, json={**text, "msgtype": "fax"})["errcode"] == 40008
    assert api(emu, "POST", "message/send", t, json={**text, "agentid": 1})["errcode"] == 301002
    sent = api(emu, "POST", "message/send", t, json=text)
    assert sent["errcode"] == 0 and "response_code" not in sent and emu.messages == [text]

    card: dict[str, object] = {
        "card_type": "button_interaction",
        "main_title": {"title": "类型？"},
        "task_id": "t-1",
    }
    payload = {**text, "msgtype": "template_card", "template_card": card}
    assert api(emu, "POST", "message/send", t, json=payload)["errcode"] == 40035  # no buttons
    card["button_list"] = [{"text": "甲", "key": "1"}]
    assert (
        api(emu, "POST", "message/send", t, json={**payload, "template_card": {**card, "task_id": "a b"}})[
            "errcode"
        ]
        == 40035
    )
    first = api(emu, "POST", "message/send", t, json=payload)
    assert first["errcode"] == 0 and first["response_code"]
    assert api(emu, "POST", "message/send", t, json=payload)["errcode"] == 40058  # task_id is unique
    vote = {**card, "card_type": "vote_interaction", "task_id": "t-2", "checkbox": {"question_key": "q"}}
    assert api(emu, "POST", "message/send", t, json={**payload, "template_card": vote})["errcode"] == 40035

    update = {
        "userids": ["u1"],
        "agentid": AGENT,
        "response_code": first["response_code"],
        "button": {"replace_name": "已选"},
    }
    assert api(emu, "POST", "message/update_template_card", t, json=update)["errcode"] == 0
    assert api(emu, "POST", "message/update_template_card", t, json=update)["errcode"] != 0  # once only
    assert emu.card_updates[0]["task_id"] == "t-1"


def test_invalid_users_and_duplicate_check(emu: WeComEmulator) -> None:
    t = token(emu)
    emu.valid_userids = {"u1"}
    text = {"agentid": AGENT, "msgtype": "text", "text": {"content": "hi"}}
    assert api(emu, "POST", "message/send", t, json={**text, "touser": "ghost"})["errcode"] == 81013
    mixed = api(emu, "POST", "message/send", t, json={**text, "touser": "u1|ghost"})
    assert mixed["errcode"] == 0 and mixed["invaliduser"] == "ghost"
    again = api(emu, "POST", "message/send", t, json={**text, "touser": "u1", "enable_duplicate_check": 1})
    assert again["errcode"] == 0 and len(emu.messages) == 1 and len(emu.duplicates_suppressed) == 1


def test_media_round_trip_through_the_client(emu: WeComEmulator, client: WeComClient) -> None:
    media_id = client.upload("file", "报价单.pdf", b"%PDF-1.4 test", "application/pdf")
    got = client.download(media_id)
    assert (got.data, got.filename, got.mime) == (b"%PDF-1.4 test", "报价单.pdf", "application/pdf")
    with pytest.raises(WeChatClientException) as missing:
        client.download("nope")
    assert missing.value.errcode == 40007
    with pytest.raises(WeChatClientException):
        client.upload("file", "tiny", b"1", "text/plain")  # WeCom wants more than 5 bytes


def test_approval_detail_fixture_keeps_the_noise(emu: WeComEmulator, client: WeComClient) -> None:
    emu.add_approval(
        fx.detail(
            sp_no="1", template_id="T", applicant="u", sp_status=1, contents=[fx.text("客户名称", "甲")]
        )
    )
    info = client.approval_detail("1")
    value = info["apply_data"]["contents"][0]["value"]
    assert value["text"] == "甲" and value["members"] == [] and value["files"] == []
    with pytest.raises(WeChatClientException):
        client.approval_detail("2")


def test_group_robot_limit_is_a_sliding_minute(emu: WeComEmulator, clock: Clock) -> None:
    def send(key: str) -> int:
        body = {"msgtype": "text", "text": {"content": "hi"}}
        return int(api(emu, "POST", "webhook/send", params={"key": key}, json=body)["errcode"])

    assert [send("k") for _ in range(20)] == [0] * 20
    assert send("k") == 45009 and send("other") == 0
    clock.t += 30
    assert send("k") == 45009
    clock.t += 31
    assert send("k") == 0
    emu.webhook_keys = {"k"}
    assert send("unknown") == 93000
    up = requests.post(
        f"{emu.base_url}/cgi-bin/webhook/upload_media",
        params={"key": "k", "type": "file"},
        files={"media": ("a.txt", b"hello world", "text/plain")},
        timeout=5,
    ).json()
    assert up["errcode"] == 0
    file_body = {"msgtype": "file", "file": {"media_id": up["media_id"]}}
    assert api(emu, "POST", "webhook/send", params={"key": "k"}, json=file_body)["errcode"] in (0, 45009)


def test_contacts_for_the_organisation_sync(emu: WeComEmulator, client: WeComClient) -> None:
    emu.set_contacts(
        departments=[
            {"id": 1, "name": "公司", "parentid": 0, "order": 1, "department_leader": ["boss"]},
            {"id": 2, "name": "华南销售部", "parentid": 1, "order": 1, "department_leader": ["zhoumin"]},
            {"id": 3, "name": "广州组", "parentid": 2, "order": 1, "department_leader": []},
            {"id": 4, "name": "财务部", "parentid": 1, "order": 2, "department_leader": []},
        ],
        users=[
            {
                "userid": "boss",
                "name": "老板",
                "department": [1],
                "main_department": 1,
                "is_leader_in_dept": [1],
            },
            {
                "userid": "zhoumin",
                "name": "周敏",
                "department": [2],
                "main_department": 2,
                "is_leader_in_dept": [1],
            },
            {
                "userid": "wanglei",
                "name": "王磊",
                "department": [3],
                "main_department": 3,
                "direct_leader": ["zhoumin"],
            },
            {"userid": "qianfang", "name": "钱芳", "department": [4], "main_department": 4},
        ],
    )
    assert [d["id"] for d in client.department.get()] == [1, 2, 3, 4]
    assert [d["name"] for d in client.department.get(2)] == ["华南销售部", "广州组"]
    assert [u["userid"] for u in client.user.list(2)] == ["zhoumin"]
    assert [u["userid"] for u in client.user.list(2, fetch_child=True)] == ["zhoumin", "wanglei"]
    simple = client.department.get_users(3)
    assert simple == [{"userid": "wanglei", "name": "王磊", "department": [3]}]
    with pytest.raises(WeChatClientException) as missing:
        client.user.list(99)
    assert missing.value.errcode == 60123
    emu.fail_next("user/list", 60011, "no privilege to access/modify contact/party/agent")
    with pytest.raises(WeChatClientException) as denied:
        client.user.list(1)
    assert denied.value.errcode == 60011
    assert [u["userid"] for u in client.user.list(1, fetch_child=True)] == [
        "boss",
        "zhoumin",
        "wanglei",
        "qianfang",
    ]
    assert [r.path for r in emu.calls("user/list")][-1] == "user/list"
