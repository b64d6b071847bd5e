"""``actionflow run`` on the console: each stdin line is a message from the acting user; ``/`` lines are
console commands (switch user, send voice/photo, inject an approval, click a card, move the simulated
clock). With a non-TTY stdin every line is processed and the program exits at EOF."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import Application
from bot.channels.console import ConsoleChannel
from core.clock import ManualClock, parse_duration
from domain import visits
from storage.models import User, UserStatus, Visit

USAGE = {
    "as": "/as <姓名或ID>            切换当前用户（未知 ID 以陌生人身份发送）",
    "whoami": "/whoami                  显示当前用户",
    "users": "/users                   列出所有用户",
    "voice": "/voice <音频文件> [平台识别文字]  发送语音（wav/amr/ogg/mp3）",
    "photo": "/photo <图片文件>         发送照片",
    "file": "/file <文件>              发送文件",
    "click": "/click <编号>[,<编号>]    点击最近一张选择卡片",
    "approval": (
        "/approval submit 客户=<名称> 开始=<时间> 结束=<时间> [事由=<文字>] [编号=<审批号>]\n"
        "  /approval approve|refuse|withdraw <审批号>   注入审批结果（发给提交人，谁来输入都一样）"
    ),
    "advance": "/advance <时长>           快进模拟时钟（如 30m、2h、1d）并执行到期任务",
    "time": "/time [时间]              显示模拟时间；给出时间（如 明天 9:00）则快进到那时",
    "tick": "/tick                    立即执行到期的定时任务",
    "help": "/help                    显示本帮助",
    "quit": "/quit                    退出",
}

APPROVAL_KEYS = {"客户": "customer", "开始": "start", "结束": "end", "事由": "purpose", "目的": "purpose"}


class ConsoleSession:
    def __init__(
        self,
        app: Application,
        channel: ConsoleChannel,
        clock: ManualClock,
        *,
        out: Callable[[str], None],
        user: str = "",
    ) -> None:
        self.app = app
        self.channel = channel
        self.clock = clock
        self.out = out
        self.user = user
        self._approvals = 0
        self._approval_fields: dict[str, dict[str, str]] = {}
        # Who submitted each application: a decision event carries the applicant, as on the
        # platforms, whoever types the /approval command (usually the approving manager).
        self._applicants: dict[str, str] = {}

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app.settings.app.timezone)

    async def refresh_names(self) -> list[User]:
        async with self.app.db.read() as session:
            users = list((await session.execute(select(User).order_by(User.id))).scalars())
        self.channel.names = {u.console_id: u.name for u in users if u.console_id}
        return users

    async def choose_default_user(self) -> None:
        users = await self.refresh_names()
        wanted = self.user or self.app.settings.console.user
        if wanted:
            await self.switch(wanted)
            return
        reps = [u for u in users if u.has_role("rep") and u.console_id and u.status == UserStatus.ACTIVE]
        pick = reps[0] if reps else next((u for u in users if u.console_id), None)
        self.user = pick.console_id if pick and pick.console_id else "guest"
        self.channel.viewer = self.user

    async def switch(self, who: str) -> None:
        users = await self.refresh_names()
        match = next((u for u in users if who in (u.console_id, u.name, str(u.id)) and u.console_id), None)
        if match is not None and match.console_id:
            self.user = match.console_id
            self.out(f"（当前用户：{match.name}，ID {match.console_id}）")
        else:
            self.user = who
            self.out(f"（当前用户：{who}，系统中没有这个人，将以陌生人身份发送）")
        self.channel.viewer = self.user

    def prompt(self) -> str:
        return f"{self.channel.names.get(self.user, self.user)}> "

    async def handle_line(self, line: str) -> bool:
        """Process one line; False means quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith("/"):
            keep_going = await self._command(line[1:])
        else:
            await self.channel.say(self.user, line)
            keep_going = True
        await self.app.tick()
        return keep_going

    def usage(self, name: str | None = None) -> None:
        if name and name in USAGE:
            self.out("用法：" + USAGE[name])
        else:
            self.out("控制台命令：\n" + "\n".join(f"  {text}" for text in USAGE.values()))

    async def _command(self, text: str) -> bool:
        try:
            parts = shlex.split(text)
        except ValueError:
            self.out('命令里的引号没有配对：值里有空格时，请用一对英文引号括起来，例如 开始="明天 9:00"。')
            return True
        if not parts:
            self.usage()
            return True
        name, args = parts[0].lower(), parts[1:]
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            self.out(f"未知的控制台命令 /{name}")
            self.usage()
            return True
        try:
            result = await handler(args)
        except _Usage:
            self.usage(name)
            return True
        return result is not False

    async def _cmd_as(self, args: list[str]) -> None:
        if len(args) != 1:
            raise _Usage
        await self.switch(args[0])

    async def _cmd_whoami(self, args: list[str]) -> None:
        self.out(f"（当前用户：{self.channel.names.get(self.user, '陌生人')}，ID {self.user}）")

    async def _cmd_users(self, args: list[str]) -> None:
        for u in await self.refresh_names():
            roles = ",".join(sorted(u.roles)) or "-"
            self.out(f"  {u.console_id or '-':<10} {u.name:<6} {roles:<20} {u.team} {u.status}")

    async def _media(self, args: list[str], kind: str) -> None:
        if not args:
            raise _Usage
        path = Path(args[0])
        if not await asyncio.to_thread(path.is_file):
            self.out(f"找不到文件：{path}")
            return
        if kind == "voice":
            await self.channel.voice(self.user, path, " ".join(args[1:]) or None)
        elif kind == "photo":
            await self.channel.photo(self.user, path)
        else:
            await self.channel.file(self.user, path)

    async def _cmd_voice(self, args: list[str]) -> None:
        await self._media(args, "voice")

    async def _cmd_photo(self, args: list[str]) -> None:
        await self._media(args, "photo")

    async def _cmd_file(self, args: list[str]) -> None:
        await self._media(args, "file")

    async def _cmd_click(self, args: list[str]) -> None:
        if len(args) != 1:
            raise _Usage
        values = [v for v in args[0].replace("，", ",").split(",") if v]
        if not all(v.isdigit() for v in values):
            raise _Usage
        try:
            await self.channel.click(self.user, values)
        except LookupError:
            self.out("（还没有给当前用户显示过选择卡片）")

    async def _cmd_approval(self, args: list[str]) -> None:
        if not args:
            raise _Usage
        action = args[0].lower()
        if action == "submit":
            fields: dict[str, str] = {}
            approval_id = ""
            for item in args[1:]:
                key, sep, value = item.partition("=")
                if not sep:
                    # Usually a value with a space that was not quoted: 开始=明天 9:00.
                    self.out(
                        f"看不懂「{item}」：每项都要写成 字段=值；值里有空格时请加引号，"
                        '例如 开始="明天 9:00"。'
                    )
                    return
                if key in ("编号", "id"):
                    approval_id = value
                    continue
                if key not in APPROVAL_KEYS:
                    self.out(f"未知字段「{key}」，可用：{'、'.join(APPROVAL_KEYS)}、编号")
                    return
                fields[APPROVAL_KEYS[key]] = self._normalise_time(value) if key in ("开始", "结束") else value
            if "customer" not in fields:
                self.out("缺少字段：客户=<名称>")
                return
            if not approval_id:
                approval_id = await self._next_approval_id()
            elif await self._applicant(approval_id) is not None:
                self.out(f"（审批单 {approval_id} 已经提交过了：换一个编号，或发送它的审批结果）")
                return
            self._approval_fields[approval_id] = fields
            self._applicants[approval_id] = self.user
            self.out(f"（审批单 {approval_id} 已提交）")
            await self.channel.approval(self.user, approval_id, "submitted", fields)
            return
        statuses = {"approve": "approved", "refuse": "refused", "withdraw": "withdrawn"}
        if action not in statuses or len(args) != 2:
            raise _Usage
        approval_id = args[1]
        applicant = await self._applicant(approval_id)
        if applicant is None:
            self.out(f"（没有找到审批单 {approval_id}：先用 /approval submit 提交）")
            return
        fields = self._approval_fields.get(approval_id, {})
        if not await self.channel.approval(applicant, approval_id, statuses[action], fields):  # type: ignore[arg-type]
            self.out(f"（审批单 {approval_id} 的这个结果已经发送过了）")

    async def _applicant(self, approval_id: str) -> str | None:
        """Who submitted the application: remembered from this run, else its visit in the database
        (an application submitted before a restart)."""
        if approval_id in self._applicants:
            return self._applicants[approval_id]
        async with self.app.db.read() as session:
            visit = await visits.by_approval(session, self.channel.name, approval_id)
            rep = await session.get(User, visit.rep_id) if visit is not None else None
        return rep.console_id if rep is not None and rep.console_id else None

    async def _next_approval_id(self) -> str:
        """A001, A002, …: numbering goes on from applications already in the database, so a restarted
        console never reuses a number (its events would be taken for ones already handled)."""
        stmt = select(Visit.source_approval_id).where(Visit.source_channel == self.channel.name)
        async with self.app.db.read() as session:
            taken = set((await session.execute(stmt)).scalars()) | self._applicants.keys()
        while True:
            self._approvals += 1
            approval_id = f"A{self._approvals:03d}"
            if approval_id not in taken:
                return approval_id

    def _normalise_time(self, value: str) -> str:
        """Approval times are local wall-clock strings; send them as ISO with the zone."""
        from handlers.forms.fields import FieldError, parse_datetime

        now_local = self.clock.now().astimezone(self.tz)
        try:
            return parse_datetime(value, now_local).isoformat()
        except FieldError:
            return value

    async def _cmd_advance(self, args: list[str]) -> None:
        if len(args) != 1:
            raise _Usage
        try:
            delta = parse_duration(args[0])
        except ValueError:
            raise _Usage from None
        self.clock.advance(delta)
        self.out(f"（模拟时间：{self._now_text()}）")

    async def _cmd_time(self, args: list[str]) -> None:
        if args:
            from handlers.forms.fields import FieldError, parse_datetime

            now_local = self.clock.now().astimezone(self.tz)
            try:
                when = parse_datetime(" ".join(args), now_local)
            except FieldError as exc:
                self.out(f"（{exc.reason}）")
                raise _Usage from None
            if when <= now_local:
                self.out("（模拟时间只能向前走；请给出一个晚于现在的时间）")
                return
            self.clock.set(when)
        self.out(f"（模拟时间：{self._now_text()}）")

    async def _cmd_tick(self, args: list[str]) -> None:
        ran = await self.app.tick()
        self.out("（执行：" + ("、".join(ran) if ran else "没有到期的任务") + "）")

    async def _cmd_help(self, args: list[str]) -> None:
        self.usage()

    async def _cmd_quit(self, args: list[str]) -> bool:
        return False

    _cmd_exit = _cmd_quit

    def _now_text(self) -> str:
        return self.clock.now().astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")


class _Usage(Exception):
    pass


async def run_console(
    app: Application,
    channel: ConsoleChannel,
    clock: ManualClock,
    *,
    stdin: TextIO | None = None,
    out: Callable[[str], None] | None = None,
    user: str = "",
) -> None:
    stdin = stdin or sys.stdin
    emit = out or (lambda line: print(line, flush=True))
    session = ConsoleSession(app, channel, clock, out=emit, user=user)
    await session.choose_default_user()
    interactive = stdin.isatty()
    if interactive:
        emit("ActionFlow 控制台。直接输入消息；/help 查看控制台命令，/quit 退出。")
        emit(f"（当前用户：{channel.names.get(session.user, session.user)}；模拟时间 {session._now_text()}）")
    await app.tick()
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            print(session.prompt(), end="", flush=True)
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        if not interactive and line.strip() and not line.lstrip().startswith("#"):
            emit(f"{session.prompt()}{line.rstrip()}")
        if not await session.handle_line(line):
            break
    await app.idle()


def parse_start(value: str | None, tz: str) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))
