"""A group an admin saves in chat (设置群) is reachable on DingTalk, not only groups from the config."""

from __future__ import annotations

from pathlib import Path

from bot.testing import make_settings
from emulators.dingtalk.rig import dingtalk_bot

MODULES = ("handlers.basic", "handlers.customer_field", "handlers.org", "tests.shipped_types")


async def test_conversation_and_webhook_groups_saved_in_chat_receive_messages(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with dingtalk_bot(tmp_path, settings=settings, modules=MODULES) as rig:
        rig.emu.add_webhook("tok-product", "SECproduct")
        await rig.bot.add_user(
            "zhoumin", "周敏", roles=("admin",), dingtalk_staff_id="0001", preferred_channel="dingtalk"
        )
        await rig.say("0001", "设置群 managers 钉钉 cidManagersGroup001")
        (group_msg,) = [s for s in rig.emu.sent if s.to == "cidManagersGroup001"]
        assert group_msg.api == "group" and "本群已设为「managers」" in group_msg.text

        url = "https://oapi.dingtalk.com/robot/send?access_token=tok-product"
        await rig.say("0001", f"设置群 product 钉钉 {url} SECproduct")
        hooked = [s for s in rig.emu.sent if s.api == "webhook"]
        assert len(hooked) == 1 and "本群已设为「product」" in hooked[0].text
        assert rig.emu.rejected == []  # the signature made with the saved secret was accepted
