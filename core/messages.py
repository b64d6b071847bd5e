"""Channel-neutral outgoing messages, and their plain-text rendering (the universal fallback)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)


class Text(_Message):
    kind: Literal["text"] = "text"
    text: str


class Markdown(_Message):
    """A titled message shown as Markdown. ``text`` is plain text (it carries names, quotes and
    answers people typed): each channel escapes it for its dialect (``core/escape.py``) and adds only
    its own title markup."""

    kind: Literal["markdown"] = "markdown"
    title: str
    text: str


class Choice(_Message):
    """A question with options. Channels render a card where they can, always with a text fallback.

    ``token`` identifies the question so a click on an old card can be told apart.
    """

    kind: Literal["choice"] = "choice"
    prompt: str
    options: list[str]
    multi: bool = False
    token: str = ""
    note: str = ""


class File(_Message):
    kind: Literal["file"] = "file"
    path: str
    name: str
    mime: str = "application/octet-stream"
    caption: str = ""


Message = Annotated[Text | Markdown | Choice | File, Field(discriminator="kind")]
MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def message_from_dict(data: dict[str, Any]) -> Message:
    return MESSAGE_ADAPTER.validate_python(data)


def choice_hint(choice: Choice) -> str:
    n = len(choice.options)
    span = "1" if n == 1 else f"1–{n}"
    if choice.multi:
        return f"回复 {span}，可多选，用逗号或空格分隔（如 1,3）"
    return f"回复 {span}"


def render_text(message: Message) -> str:
    """The message as plain text: what the console prints and what a failed card falls back to."""
    if isinstance(message, Text):
        return message.text
    if isinstance(message, Markdown):
        return message.text
    if isinstance(message, Choice):
        lines = [message.prompt]
        if message.note:
            lines.append(message.note)
        lines += [f"{i}. {opt}" for i, opt in enumerate(message.options, 1)]
        lines.append(choice_hint(message))
        return "\n".join(lines)
    if isinstance(message, File):
        caption = f"{message.caption}\n" if message.caption else ""
        return f"{caption}[文件] {message.name}"
    raise TypeError(type(message).__name__)
