"""The emulator answers the way DingTalk does: validation, contacts (for the organisation sync), webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from emulators.dingtalk import Department, DingTalkEmulator, Person


@pytest.fixture
def emu() -> Iterator[DingTalkEmulator]:
    with DingTalkEmulator() as emulator:
        yield emulator


async def _token(http: aiohttp.ClientSession, emu: DingTalkEmulator) -> str:
    async with http.get(
        f"{emu.base_url}/gettoken",
        params={"appkey": emu.state.client_id, "appsecret": emu.state.client_secret},
    ) as resp:
        return str((await resp.json())["access_token"])


async def _topapi(http: aiohttp.ClientSession, emu: DingTalkEmulator, path: str, body: dict[str, Any]) -> Any:
    token = await _token(http, emu)
    async with http.post(f"{emu.base_url}/topapi/{path}", params={"access_token": token}, json=body) as resp:
        assert resp.status == 200
        return await resp.json()


ORG = (
    [Department(2, "销售部", 1, ["zhoumin"]), Department(3, "华东区", 2), Department(4, "产品部", 1)],
    [
        Person("zhoumin", "周敏", [2], leader_in=[2], title="销售总监"),
        Person("wanglei", "王磊", [3], title="销售代表", manager_userid="zhoumin"),
        Person("liqiang", "李强", [3], leader_in=[3]),
        Person("chenjing", "陈静", [3, 4]),
    ],
)


async def test_departments_and_members_page_like_dingtalk(emu: DingTalkEmulator) -> None:
    emu.set_org(*ORG)
    async with aiohttp.ClientSession() as http:
        root = await _topapi(http, emu, "v2/department/listsub", {"dept_id": 1})
        assert [d["dept_id"] for d in root["result"]] == [2, 4]
        sub = await _topapi(http, emu, "v2/department/listsub", {"dept_id": 2})
        assert sub["result"] == [
            {
                "dept_id": 3,
                "name": "华东区",
                "parent_id": 2,
                "auto_add_user": True,
                "create_dept_group": False,
            }
        ]
        dept = await _topapi(http, emu, "v2/department/get", {"dept_id": 3})
        assert dept["result"]["dept_manager_userid_list"] == ["liqiang"]
        page1 = await _topapi(http, emu, "v2/user/list", {"dept_id": 3, "cursor": 0, "size": 2})
        assert page1["result"]["has_more"] and page1["result"]["next_cursor"] == 2
        page2 = await _topapi(http, emu, "v2/user/list", {"dept_id": 3, "cursor": 2, "size": 2})
        assert not page2["result"]["has_more"] and "next_cursor" not in page2["result"]
        people = {p["userid"]: p for p in page1["result"]["list"] + page2["result"]["list"]}
        assert set(people) == {"wanglei", "liqiang", "chenjing"}
        assert people["liqiang"]["leader"] and not people["wanglei"]["leader"]
        assert people["chenjing"]["dept_id_list"] == [3, 4]
        one = await _topapi(http, emu, "v2/user/get", {"userid": "wanglei"})
        assert one["result"]["manager_userid"] == "zhoumin"
        assert one["result"]["leader_in_dept"] == [{"dept_id": 3, "leader": False}]
        assert (await _topapi(http, emu, "v2/user/get", {"userid": "nobody"}))["errcode"] == 60121
        assert (await _topapi(http, emu, "v2/department/listsub", {"dept_id": 99}))["errcode"] == 60003


async def test_a_contact_error_can_be_injected_on_one_page(emu: DingTalkEmulator) -> None:
    emu.set_org(*ORG)
    emu.fail_contacts("user/list", dept_id=3, cursor=2, errcode=90018, errmsg="请求太频繁")
    async with aiohttp.ClientSession() as http:
        ok = await _topapi(http, emu, "v2/user/list", {"dept_id": 3, "cursor": 0, "size": 2})
        assert ok["errcode"] == 0
        failed = await _topapi(http, emu, "v2/user/list", {"dept_id": 3, "cursor": 2, "size": 2})
        assert failed == {"errcode": 90018, "errmsg": "请求太频繁"}
        again = await _topapi(http, emu, "v2/user/list", {"dept_id": 3, "cursor": 2, "size": 2})
        assert again["errcode"] == 0  # once only
        assert (await _topapi(http, emu, "v2/user/list", {"dept_id": 3, "cursor": 0, "size": 500}))[
            "errcode"
        ] == 40035


async def test_robot_sends_are_validated(emu: DingTalkEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{emu.base_url}/v1.0/oauth2/accessToken",
            json={"appKey": emu.state.client_id, "appSecret": emu.state.client_secret},
        ) as resp:
            token = (await resp.json())["accessToken"]
        url = f"{emu.base_url}/v1.0/robot/oToMessages/batchSend"
        good = {
            "robotCode": emu.state.robot_code,
            "userIds": ["u1"],
            "msgKey": "sampleText",
            "msgParam": json.dumps({"content": "hi"}),
        }
        for body, code in [
            ({**good, "msgParam": {"content": "hi"}}, "invalidParameter.msgParam"),
            ({**good, "msgKey": "sampleActionCard1"}, "invalidParameter.msgKey"),
            ({**good, "robotCode": "other"}, "invalidParameter.robotCode"),
        ]:
            async with http.post(url, json=body, headers={"x-acs-dingtalk-access-token": token}) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == code
        async with http.post(url, json=good, headers={"x-acs-dingtalk-access-token": "stale"}) as resp:
            assert resp.status == 401 and (await resp.json())["code"] == "InvalidAuthentication"
        async with http.post(url, json=good, headers={"x-acs-dingtalk-access-token": token}) as resp:
            assert resp.status == 200 and (await resp.json())["invalidStaffIdList"] == []
        assert emu.texts_to("u1") == ["hi"]


async def test_the_custom_webhook_checks_signatures_and_limits(emu: DingTalkEmulator) -> None:
    emu.add_webhook("tok", "SECabc")
    async with aiohttp.ClientSession() as http:

        async def post(secret: str) -> dict[str, Any]:
            ts = int(time.time() * 1000)
            url = f"{emu.base_url}/robot/send?access_token=tok&timestamp={ts}&sign={emu.webhook_sign(secret, ts)}"
            async with http.post(url, json={"msgtype": "text", "text": {"content": "x"}}) as resp:
                return dict(await resp.json())

        assert (await post("SECwrong"))["errmsg"] == "sign not match"
        answers = [(await post("SECabc"))["errcode"] for _ in range(21)]
        assert answers == [0] * 20 + [130101]
        assert emu.webhook_blocked_until("tok") is not None
        assert len(emu.messages_to("tok")) == 20
