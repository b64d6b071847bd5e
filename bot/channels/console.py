"""The console channel: the embedded default. Lines typed (or piped) become events; replies print."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from core.channel import Channel, EventSink, PermanentSendError, Target
from core.events import (
    ApprovalEvent,
    ApprovalStatus,
    CardActionEvent,
    Event,
    FileEvent,
    ImageEvent,
    MediaRef,
    TextEvent,
    VoiceEvent,
)
from core.messages import Choice, File, Markdown, Message, render_text

AUDIO_FORMATS = {".amr": "amr", ".wav": "wav", ".ogg": "ogg", ".opus": "ogg", ".mp3": "mp3", ".m4a": "m4a"}


class ConsoleChannel(Channel):
    """Prints to ``out``; keeps what it printed (``sent``) and the last choice shown to each user."""

    name = "console"

    def __init__(self, out: Callable[[str], None] | None = None, *, show_all: bool = True) -> None:
        self.out = out or (lambda line: print(line, flush=True))
        self.show_all = show_all
        self.viewer: str | None = None
        self.names: dict[str, str] = {}
        self.sent: list[tuple[Target, Message]] = []
        self.last_choice: dict[str, Choice] = {}
        self._sink: EventSink | None = None

    # -- Channel ------------------------------------------------------------------
    async def start(self, sink: EventSink) -> None:
        self._sink = sink

    async def stop(self) -> None:
        self._sink = None

    async def send(self, target: Target, message: Message, *, key: str) -> None:
        if not target.address:
            raise PermanentSendError("empty console target")
        self.sent.append((target, message))
        if isinstance(message, Choice) and target.kind == "user":
            self.last_choice[target.address] = message
        if not self.show_all and target.kind == "user" and target.address != self.viewer:
            return
        self.out(self.format(target, message))

    async def fetch_media(self, ref: MediaRef) -> bytes:
        return await asyncio.to_thread(Path(ref.token).read_bytes)

    def has_group(self, name: str) -> bool:
        return True

    # -- rendering ----------------------------------------------------------------
    def label(self, target: Target) -> str:
        if target.kind == "user":
            name = self.names.get(target.address)
            return f"{name}({target.address})" if name else target.address
        return f"群「{target.address}」"

    def format(self, target: Target, message: Message) -> str:
        body = render_text(message)
        if isinstance(message, Markdown) and message.title and not body.startswith(message.title):
            body = f"【{message.title}】\n{body}"
        if isinstance(message, File):
            caption = f"{message.caption}\n" if message.caption else ""
            body = f"{caption}[文件] {message.name} → {message.path}"
        lines = body.splitlines() or [""]
        head = f"[机器人 → {self.label(target)}]"
        return head + "\n" + "\n".join(f"  {line}" for line in lines)

    # -- input (used by the console REPL and the test harness) --------------------
    def _base(self, sender: str) -> dict[str, str]:
        return {
            "channel": self.name,
            "event_id": uuid.uuid4().hex,
            "sender_id": sender,
            "sender_name": self.names.get(sender, ""),
        }

    async def _submit(self, event: Event) -> bool:
        if self._sink is None:
            raise RuntimeError("console channel is not started")
        return await self._sink.submit(event)

    async def say(self, sender: str, text: str) -> bool:
        return await self._submit(TextEvent(**self._base(sender), text=text))

    async def voice(self, sender: str, path: Path, recognition: str | None = None) -> bool:
        fmt = AUDIO_FORMATS.get(path.suffix.lower(), path.suffix.lstrip(".").lower())
        return await self._submit(
            VoiceEvent(
                **self._base(sender),
                media=MediaRef(token=str(path), filename=path.name),
                format=fmt,
                platform_recognition=recognition,
            )
        )

    async def photo(self, sender: str, path: Path) -> bool:
        return await self._submit(
            ImageEvent(
                **self._base(sender), media=MediaRef(token=str(path), filename=path.name, mime="image/jpeg")
            )
        )

    async def file(self, sender: str, path: Path) -> bool:
        return await self._submit(
            FileEvent(**self._base(sender), media=MediaRef(token=str(path), filename=path.name))
        )

    async def click(self, sender: str, values: list[str]) -> bool:
        choice = self.last_choice.get(sender)
        if choice is None:
            raise LookupError("no card has been shown to this user yet")
        return await self._submit(CardActionEvent(**self._base(sender), card_id=choice.token, values=values))

    async def approval(
        self, sender: str, approval_id: str, status: ApprovalStatus, fields: dict[str, str], title: str = ""
    ) -> bool:
        base = self._base(sender)
        base["event_id"] = f"approval:{approval_id}:{status}"
        return await self._submit(
            ApprovalEvent(
                **base,
                approval_id=approval_id,
                status=status,
                fields=fields,
                title=title or "客户拜访申请",
                process_code="console-visit",
            )
        )
