"""Channel-neutral incoming events. Channel adapters build these; handlers read them.

Media is referenced, not embedded: the adapter ACKs the platform after the inbox claim, and the
dispatcher fetches the bytes through the channel afterwards (``Channel.fetch_media``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator


class MediaRef(BaseModel):
    """How to get a file from the channel: a download code, a media id, or a local path (console)."""

    model_config = ConfigDict(frozen=True)

    token: str
    filename: str = ""
    mime: str = ""


# C0 controls other than tab and newline, and DEL: NUL cannot be stored by PostgreSQL, ESC and BEL
# are never meant (a terminal escape pasted by accident, or hostile).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _without_controls(value: Any) -> Any:
    if isinstance(value, str):
        return _CONTROLS.sub("", value.replace("\r\n", "\n"))
    if isinstance(value, dict):
        return {k: _without_controls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_controls(v) for v in value]
    return value


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_controls(cls, data: Any) -> Any:
        """Every text an event carries arrives without control characters (tab and newline stay)."""
        return _without_controls(data) if isinstance(data, dict) else data

    channel: str
    event_id: str
    sender_id: str = Field(description="Platform user id of the person acting (applicant for approvals).")
    sender_name: str = ""
    conversation_id: str = ""
    is_group: bool = False
    occurred_at: datetime | None = None

    @property
    def user_key(self) -> str:
        return f"{self.channel}:{self.sender_id}"


class TextEvent(_Event):
    kind: Literal["text"] = "text"
    text: str


class VoiceEvent(_Event):
    kind: Literal["voice"] = "voice"
    media: MediaRef
    format: str = ""
    duration_ms: int | None = None
    platform_recognition: str | None = None


class ImageEvent(_Event):
    kind: Literal["image"] = "image"
    media: MediaRef


class FileEvent(_Event):
    kind: Literal["file"] = "file"
    media: MediaRef


class LocationEvent(_Event):
    kind: Literal["location"] = "location"
    latitude: float
    longitude: float
    label: str = ""


class CardActionEvent(_Event):
    """A click on an interactive card. ``card_id`` is the token the bot put on the card."""

    kind: Literal["card_action"] = "card_action"
    card_id: str
    values: list[str] = Field(
        default_factory=list, description="Chosen option ids/indices (1-based strings)."
    )
    action: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


ApprovalStatus = Literal["submitted", "approved", "refused", "withdrawn", "deleted"]


class ApprovalEvent(_Event):
    """A visit application changed state.

    ``sender_id`` is the applicant's platform user id. ``fields`` are already mapped from the
    platform's form labels (config ``approval_fields``) to neutral names: ``customer`` (the customer
    name as typed), ``start`` and ``end`` (ISO-8601 with a UTC offset, e.g. ``2026-11-28T14:00:00+08:00``;
    platform times without a zone are read in ``app.timezone``) and ``purpose``. Missing ones are absent.
    ``status``: submitted → approved | refused | withdrawn (and deleted).
    """

    kind: Literal["approval"] = "approval"
    approval_id: str
    status: ApprovalStatus
    process_code: str = ""
    title: str = ""
    fields: dict[str, str] = Field(default_factory=dict)


class EnterEvent(_Event):
    """The user opened the bot's chat (WeCom ``enter_agent``)."""

    kind: Literal["enter"] = "enter"


Event = Annotated[
    TextEvent
    | VoiceEvent
    | ImageEvent
    | FileEvent
    | LocationEvent
    | CardActionEvent
    | ApprovalEvent
    | EnterEvent,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_to_dict(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json")


def event_from_dict(data: dict[str, Any]) -> Event:
    return EVENT_ADAPTER.validate_python(data)
