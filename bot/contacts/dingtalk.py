"""The DingTalk contact source: the whole organisation through the OpenAPI client (docs/org.md)."""

from __future__ import annotations

import re

from bot.channels.dingtalk.api import ApiError, OpenApi
from bot.channels.dingtalk.contacts import fetch_directory
from config.settings import DingTalkSettings
from core.clock import Clock
from domain.contacts import ContactsError, Department, Directory, Member, Platform

# 60011 no permission, 60020 the server's IP is not on the app's whitelist, 88 / 60121-type scope errors
PERMISSION_HINTS = {
    60011: "the app lacks a contact read permission: in the DingTalk developer console (权限管理) grant "
    "通讯录部门信息读权限 and 成员信息读权限, and set the app's 通讯录权限范围 to the departments to sync",
    60020: "this server's IP is not in the app's IP whitelist (开发者后台 → 安全设置 → 服务器出口IP)",
    88: "the app may not call this API: grant 通讯录部门信息读权限 and 成员信息读权限 in 权限管理",
    40014: "the access token was refused: check dingtalk.client_id / dingtalk.client_secret",
}


def explain(exc: ApiError) -> str:
    """The error in plain words, with what to do for the usual permission problems."""
    codes = [int(c) for c in re.findall(r"errcode (-?\d+)", str(exc))]
    if exc.code.lstrip("-").isdigit():
        codes.insert(0, int(exc.code))
    hint = next((PERMISSION_HINTS[c] for c in codes if c in PERMISSION_HINTS), "")
    if not hint and "access token" in str(exc):
        hint = "check dingtalk.client_id / dingtalk.client_secret"
    return f"{exc}" + (f" ({hint})" if hint else "")


class DingTalkContacts:
    """Reads departments and members with the channel's app credentials (a fresh client per run)."""

    platform: Platform = "dingtalk"

    def __init__(self, settings: DingTalkSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    async def fetch(self) -> Directory:
        api = OpenApi(self.settings, self.clock)
        try:
            departments, members = await fetch_directory(api)
        except ApiError as exc:
            raise ContactsError(explain(exc)) from exc
        finally:
            await api.close()
        return Directory(
            "dingtalk",
            tuple(Department(**d) for d in departments),
            tuple(Member(**m) for m in members),
        )
