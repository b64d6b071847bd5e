"""What the emulator remembers: credentials and tokens, frames and their ACKs, what was sent to whom,
cards, files, approval instances, webhooks, injected faults. Guarded by one lock: HTTP handlers run on
the emulator's loop, tests read and write from their own thread."""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


# msgKey → the msgParam fields it needs (https://open.dingtalk.com/document/development/robot-message-type)
MSG_KEYS: dict[str, tuple[str, ...]] = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleImageMsg": ("photoURL",),
    "sampleLink": ("text", "title", "picUrl", "messageUrl"),
    "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
    "sampleActionCard2": ("title", "text", "actionTitle1", "actionURL1", "actionTitle2", "actionURL2"),
    "sampleActionCard3": ("title", "text", "actionTitle1", "actionURL1"),
    "sampleActionCard4": ("title", "text", "actionTitle1", "actionURL1"),
    "sampleActionCard5": ("title", "text", "actionTitle1", "actionURL1"),
    "sampleActionCard6": ("title", "text", "buttonTitle1", "buttonUrl1", "buttonTitle2", "buttonUrl2"),
    "sampleAudio": ("mediaId", "duration"),
    "sampleFile": ("mediaId", "fileName", "fileType"),
    "sampleVideo": ("duration", "videoMediaId", "videoType", "picMediaId"),
}


@dataclass
class Sent:
    """One message the bot delivered. ``api``: oto | group | webhook | session | card."""

    api: str
    to: str
    msg_key: str
    param: dict[str, Any]
    at: datetime

    @property
    def text(self) -> str:
        p = self.param
        if self.msg_key in ("sampleText", "text"):
            return str(p.get("content", ""))
        if self.msg_key in ("sampleMarkdown", "markdown"):
            return str(p.get("text", ""))
        if self.msg_key == "sampleFile":
            return f"[文件] {p.get('fileName', '')}"
        if self.msg_key == "card":
            for key in ("markdown", "content", "text", "title"):
                if p.get(key):
                    return str(p[key])
        return json.dumps(p, ensure_ascii=False, sort_keys=True)


@dataclass
class Frame:
    """A frame pushed to the bot, with its delivery and ACK bookkeeping."""

    message_id: str
    raw: str
    type: str
    topic: str
    redeliver: bool
    deliveries: int = 0
    connection: str | None = None
    sent_mono: float = 0.0
    first_sent_mono: float = 0.0
    acked_mono: float = 0.0
    ack: dict[str, Any] | None = None
    acks_received: int = 0
    msg_id: str | None = None  # robot messages: the data's msgId
    on_ack: Callable[[dict[str, Any]], None] | None = None

    @property
    def acked(self) -> bool:
        return self.ack is not None


@dataclass
class Card:
    out_track_id: str
    template_id: str
    params: dict[str, str]
    callback_type: str
    spaces: list[str]
    recipients: list[str]
    private: dict[str, dict[str, str]] = field(default_factory=dict)
    updates: int = 0


@dataclass
class StoredFile:
    data: bytes
    content_type: str
    name: str = ""


@dataclass
class Webhook:
    token: str
    secret: str
    sends: deque[datetime] = field(default_factory=deque)
    blocked_until: datetime | None = None


@dataclass
class Token:
    value: str
    expires_at: datetime


class EmulatorState:
    """Everything behind one lock. Handlers and the test API both go through here."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        robot_code: str,
        corp_id: str,
        clock: Clock,
        token_ttl_s: int,
        webhook_limit_per_min: int,
        webhook_block_s: int,
    ) -> None:
        self.lock = threading.RLock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code
        self.corp_id = corp_id
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self.webhook_limit_per_min = webhook_limit_per_min
        self.webhook_block_s = webhook_block_s
        self.tokens: dict[str, Token] = {}
        self.tokens_issued = 0
        self.calls: dict[str, int] = {}
        self.sent: list[Sent] = []
        self.frames: dict[str, Frame] = {}
        self.cards: dict[str, Card] = {}
        self.files: dict[str, StoredFile] = {}
        self.media: dict[str, StoredFile] = {}
        self.instances: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.invalid_staff_ids: set[str] = set()
        self.faults: dict[str, deque[str]] = {}
        self.sessions: dict[str, str] = {}
        # H5 micro-app 免登: auth codes the "DingTalk client" handed to a page (code → staff id, expiry).
        self.auth_codes: dict[str, tuple[str, datetime]] = {}
        self.rejected: list[tuple[str, str]] = []  # (api, reason) for requests the emulator refused

    # -- tokens -------------------------------------------------------------------
    def issue_token(self) -> Token:
        with self.lock:
            token = Token(
                f"tok-{uuid.uuid4().hex[:16]}", self.clock.now() + timedelta(seconds=self.token_ttl_s)
            )
            self.tokens[token.value] = token
            self.tokens_issued += 1
            return token

    def token_valid(self, value: str | None) -> bool:
        with self.lock:
            token = self.tokens.get(value or "")
            return token is not None and token.expires_at > self.clock.now()

    # -- H5 micro-app 免登 ---------------------------------------------------------
    def issue_auth_code(self, staff_id: str, ttl_s: int = 300) -> str:
        """What ``dd.runtime.permission.requestAuthCode`` gives a page: single use, five minutes."""
        with self.lock:
            code = f"auth-{uuid.uuid4().hex[:20]}"
            self.auth_codes[code] = (staff_id, self.clock.now() + timedelta(seconds=ttl_s))
            return code

    def redeem_auth_code(self, code: str) -> str | None:
        with self.lock:
            entry = self.auth_codes.pop(code, None)
            if entry is None or entry[1] <= self.clock.now():
                return None
            return entry[0]

    # -- bookkeeping --------------------------------------------------------------
    def count(self, api: str) -> None:
        with self.lock:
            self.calls[api] = self.calls.get(api, 0) + 1

    def take_fault(self, api: str) -> str | None:
        with self.lock:
            queue = self.faults.get(api)
            return queue.popleft() if queue else None

    def record(self, api: str, to: str, msg_key: str, param: dict[str, Any]) -> None:
        with self.lock:
            self.sent.append(Sent(api, to, msg_key, param, self.clock.now()))

    def reject(self, api: str, reason: str) -> None:
        with self.lock:
            self.rejected.append((api, reason))
