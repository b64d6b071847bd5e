"""Reading the organisation through the contact APIs (the DingTalk side of the contact sync)."""

from __future__ import annotations

import pytest

from bot.channels.dingtalk.api import ApiError, OpenApi
from bot.channels.dingtalk.contacts import fetch_directory
from config.settings import DingTalkSettings
from core.clock import SystemClock
from emulators.dingtalk import Department, DingTalkEmulator, Person


def _api(emu: DingTalkEmulator) -> OpenApi:
    return OpenApi(DingTalkSettings(enabled=True, **emu.credentials), SystemClock())


async def test_the_whole_organisation_is_read_with_leaders_and_pages() -> None:
    crowd = [Person(f"rep{n:03d}", f"销售{n}", [3]) for n in range(150)]  # two pages
    with DingTalkEmulator() as emu:
        emu.set_org(
            [Department(2, "销售部", 1), Department(3, "华东区", 2), Department(4, "产品部", 1)],
            [
                Person("zhoumin", "周敏", [2], leader_in=[2], title="销售总监", mobile="13800000000"),
                Person("chenjing", "陈静", [3, 4], leader_in=[4]),
                Person("invited", "新同事", [3], active=False),  # not activated yet
                *crowd,
            ],
        )
        api = _api(emu)
        try:
            departments, members = await fetch_directory(api)
        finally:
            await api.close()
    by_id = {d["id"]: d for d in departments}
    assert by_id["1"]["name"] == "公司" and by_id["3"]["parent_id"] == "2"
    assert by_id["2"]["leader_ids"] == ("zhoumin",) and by_id["4"]["leader_ids"] == ("chenjing",)
    people = {m["userid"]: m for m in members}
    assert len(people) == 153  # chenjing is in two departments but one person
    assert people["chenjing"]["department_ids"] == ("3", "4") and people["chenjing"]["leader_in"] == ("4",)
    assert people["zhoumin"]["phone"] == "13800000000" and people["zhoumin"]["title"] == "销售总监"
    assert people["invited"]["active"] is True  # still a member: people who left are not listed


async def test_an_error_on_any_page_returns_nothing() -> None:
    with DingTalkEmulator() as emu:
        emu.set_org([Department(2, "销售部", 1)], [Person(f"p{n:03d}", f"人{n}", [2]) for n in range(120)])
        emu.fail_contacts("user/list", dept_id=2, cursor=100, errcode=60011, errmsg="无权限")
        api = _api(emu)
        try:
            with pytest.raises(ApiError, match="60011"):
                await fetch_directory(api)
        finally:
            await api.close()
