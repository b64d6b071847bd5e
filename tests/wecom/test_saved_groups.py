"""A group an admin saves in chat (设置群) is reachable on WeCom, not only groups from the config."""

from __future__ import annotations

from pathlib import Path

from tests.wecom.world import ROBOT_KEY, wecom_world

MODULES = ("handlers.basic", "handlers.customer_field", "handlers.org", "tests.shipped_types")


async def test_appchat_and_robot_groups_saved_in_chat_receive_messages(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES, wecom={"groups": {}}) as w:
        await w.add_user("zhoumin", "周敏", roles=("admin",))
        await w.say("zhoumin", "设置群 product 企业微信 wrProductChat0001")
        await w.settle()
        assert [m["chatid"] for m in w.emulator.appchat] == ["wrProductChat0001"]
        assert "本群已设为「product」" in w.emulator.appchat[0]["text"]["content"]

        url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"
        await w.say("zhoumin", f"设置群 finance 企业微信 {url}")
        await w.settle()
        (robot,) = w.emulator.webhooks[ROBOT_KEY]
        assert "本群已设为「finance」" in robot["text"]["content"]
