"""Helpers for the DingTalk tests: known reps on the DingTalk channel."""

from __future__ import annotations

from emulators.dingtalk.rig import DingTalkRig

STAFF = "0423297"  # 王磊's DingTalk staffId
BOSS = "0188001"


async def add_rep(
    rig: DingTalkRig,
    handle: str = "wanglei",
    name: str = "王磊",
    staff: str = STAFF,
    roles: tuple[str, ...] = ("rep",),
) -> None:
    await rig.bot.add_user(handle, name, roles=roles, dingtalk_staff_id=staff, preferred_channel="dingtalk")
