"""The channel port. Console, DingTalk and WeCom implement it; one contract test covers all three."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from core.events import Event, MediaRef
from core.messages import Message

TargetKind = Literal["user", "group", "conversation"]


@dataclass(frozen=True)
class Target:
    """``user``: a platform user id; ``group``: a configured group name; ``conversation``: a raw
    group conversation id (a reply to a message that came from a group)."""

    kind: TargetKind
    address: str


@dataclass(frozen=True)
class RateLimit:
    """At most ``calls`` per ``per_s`` seconds for everything sharing ``key``."""

    key: str
    calls: int
    per_s: float


class SendError(Exception):
    """Delivery failed."""


class TransientSendError(SendError):
    """Try again later (network, throttling). ``retry_after`` in seconds when the platform says so;
    ``block_key`` blocks every message sharing that rate-limit key until then (webhook penalties)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, block_key: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.block_key = block_key


class PermanentSendError(SendError):
    """Will never succeed (unknown user, bad group, invalid payload): dead-letter it."""


#: Set by the outbox around ``Channel.send``: False once the message may have passed to another
#: instance (this process was paused past its sending lease). Channels call :func:`check_still_ours`
#: right before each platform call, so a process resumed after a freeze does not send it too.
STILL_OURS: ContextVar[Callable[[], bool] | None] = ContextVar("still_ours", default=None)


def check_still_ours() -> None:
    still_ours = STILL_OURS.get()
    if still_ours is not None and not still_ours():
        raise TransientSendError("the sending lease may have passed to another instance; not sending")


@dataclass(frozen=True)
class GroupAddress:
    """A named group saved by an admin (``group_targets``): ``kind`` is ``conversation`` or ``webhook``
    (DingTalk), ``appchat`` or ``robot`` (WeCom); ``secret`` is a webhook signing secret."""

    kind: str
    address: str
    secret: str = ""


GroupLookup = Callable[[str], Awaitable[GroupAddress | None]]


class EventSink(Protocol):
    async def submit(self, event: Event) -> bool:
        """Claim the event in the inbox. True if new, False for a duplicate. Returns fast: ACK after."""
        ...


class Channel(ABC):
    name: ClassVar[str]
    #: Set by the application: finds groups admins saved in chat (config groups come first).
    group_lookup: GroupLookup | None = None

    @abstractmethod
    async def start(self, sink: EventSink) -> None:
        """Begin receiving; every event goes to ``sink.submit`` before the platform is acknowledged."""

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def send(self, target: Target, message: Message, *, key: str) -> None:
        """Deliver one message or raise :class:`SendError`. ``key`` is the idempotency key."""

    def ready(self) -> bool:
        """True while the channel can send. The outbox leaves a channel's messages alone (and counts
        no attempt) until it is; a channel that sends without being started keeps the default."""
        return True

    def connected(self) -> bool | None:
        """Whether the platform link is up right now (None: the channel has no such link)."""
        return None

    async def fetch_media(self, ref: MediaRef) -> bytes:
        raise NotImplementedError(f"{self.name} does not deliver media")

    async def prepare(self, target: Target) -> None:
        """Called before a round of sends to ``target`` (e.g. resolve a saved group's address).
        Raise :class:`PermanentSendError` when the target cannot exist."""
        return None

    def rate_limit(self, target: Target, message: Message) -> RateLimit | None:
        """The limit that applies to sending ``message`` to ``target``, if any."""
        return None

    def mergeable(self, target: Target) -> bool:
        """True when queued text for ``target`` may be merged into one digest (rate-limited webhooks)."""
        return False

    def has_group(self, name: str) -> bool:
        return False
