"""Tells the admins in chat when something needs a person: a message the outbox gave up on, a
scheduled job that failed, a channel that stays disconnected. Once per incident (recorded in
``alert_log``, so a restart or a second instance does not repeat it), and through another channel
than the one in trouble when there is one.

Where it goes: the ``admins`` route of ``[alerts.routes]`` (a group) when set and reachable on
another channel, else a direct message to each active admin on a channel other than the affected
one (the affected one only when the admin is on no other).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.messages import Text
from domain.outbox import enqueue
from storage.models import AlertLog, User, UserRole, UserStatus
from storage.upsert import insert_ignore

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

KIND = "ops"
WATCH_EVERY_S = 5.0
CHANNEL_NAMES = {"dingtalk": "钉钉", "wecom": "企业微信", "console": "控制台"}


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


class Incidents:
    def __init__(self, app: Application) -> None:
        self.app = app
        self._down_since: dict[str, float] = {}  # channel -> time.monotonic() it was first seen down
        self._down_at: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self.seconds = time.monotonic  # the watch's clock (tests move it)

    # -- reporting ------------------------------------------------------------------
    async def report(self, key: str, period: str, text: str, *, avoid: str = "") -> bool:
        """Tell the admins once per (key, period). True when this call opened the incident."""
        app = self.app
        now = app.clock.now()
        async with app.db.transaction() as session:
            opened = await insert_ignore(
                session,
                AlertLog,
                {
                    "kind": KIND,
                    "key": key[:200],
                    "period": period[:40],
                    "target": "admins",
                    "payload": {},
                    "created_at": now,
                },
            )
            if not opened:
                return False
            if not app.settings.ops.alert_admins:
                return True
            up = [c for c, ch in app.channels.items() if ch.ready() and ch.connected() is not False]
            order = [c for c in up if c != avoid] + ([avoid] if avoid in up else [])
            message = Text(text=text)
            group = app.settings.alerts.routes.get("admins")
            notifier = app.services.notifier
            if group:
                address = await notifier.address_group(session, group)
                if address is not None and address[0] != avoid and address[0] in up:
                    await enqueue(
                        session,
                        now=now,
                        channel=address[0],
                        target_kind="group",
                        target=address[1],
                        message=message,
                        key=f"ops:{key}:{period}:group",
                    )
                    self._wake()
                    return True
            admins = (
                (
                    await session.execute(
                        select(User)
                        .join(UserRole, UserRole.user_id == User.id)
                        .where(UserRole.role == "admin", User.status == UserStatus.ACTIVE)
                    )
                )
                .scalars()
                .all()
            )
            told = 0
            for admin in admins:
                for channel in order:
                    pid = admin.platform_id(channel)
                    if pid:
                        await enqueue(
                            session,
                            now=now,
                            channel=channel,
                            target_kind="user",
                            target=pid,
                            message=message,
                            key=f"ops:{key}:{period}:{admin.id}",
                        )
                        told += 1
                        break
            if not told:
                log.error("no admin could be told about %s: %s", key, text)
        self._wake()
        return True

    def _wake(self) -> None:
        outbox = getattr(self.app, "outbox", None)
        if outbox is not None:
            outbox.wake()

    # -- sources ----------------------------------------------------------------------
    async def dead_letters(self, details: list[tuple[int, str, str, str]]) -> None:
        by_channel: dict[str, list[tuple[int, str, str, str]]] = {}
        for item in details:
            by_channel.setdefault(item[1], []).append(item)
        day = self.app.clock.now().strftime("%Y-%m-%d")
        for channel, items in by_channel.items():
            self.app.metrics.dead_letters.labels(channel).inc(len(items))
            _, _, target, error = items[-1]
            text = (
                f"【系统提醒】{channel_name(channel)}有消息发送失败，已停止重试（发给 {target}）。"
                f"原因：{error[:200]}\n处理好后可运行 actionflow outbox retry --all 重新发送。"
                "今天这个渠道再有失败不再逐条提醒。"
            )
            await self.report(f"dead:{channel}", day, text, avoid=channel)

    async def job_failed(self, job: str, period: str, error: str) -> None:
        text = (
            f"【系统提醒】定时任务 {job}（{period}）运行失败：{error[:200]}\n"
            "请查看日志；修复后它会在下个周期照常运行。今天这个任务再失败不再提醒。"
        )
        await self.report(f"job:{job}", self.app.clock.now().strftime("%Y-%m-%d"), text)

    # -- channel watch --------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="incident-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def down_for(self) -> Mapping[str, float]:
        """Seconds each disconnected channel has been down (as last checked)."""
        now = self.seconds()
        return {name: now - since for name, since in self._down_since.items()}

    async def check_channels(self) -> None:
        threshold = self.app.settings.ops.channel_down_alert_s
        now = self.seconds()
        for name, channel in self.app.channels.items():
            if channel.connected() is False:
                since = self._down_since.setdefault(name, now)
                self._down_at.setdefault(name, self.app.clock.now())
                if now - since >= threshold:
                    began = self._down_at[name]
                    minutes = max(int((now - since) // 60), 1)
                    text = (
                        f"【系统提醒】{channel_name(name)}连接已断开约 {minutes} 分钟，"
                        "这段时间收不到该渠道的消息。请检查网络和应用凭据；恢复后会自动重连。"
                    )
                    await self.report(f"down:{name}", began.strftime("%Y-%m-%dT%H:%M:%S"), text, avoid=name)
            else:
                self._down_since.pop(name, None)
                self._down_at.pop(name, None)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            try:
                await self.check_channels()
            except Exception:
                log.exception("checking the channels failed")
