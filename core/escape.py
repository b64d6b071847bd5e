"""One escaping function per output format, for text that people typed or imported.

The bot's own digests, alerts and answers use no Markdown markup of their own: a ``Markdown``
message's text is plain text (names, answers, quotes, comments included) that the channel escapes
for its dialect just before sending, so nothing a customer name contains can become a link, an
image, a mention, coloured HTML or bold "official" text. Markup characters are replaced by their
full-width look-alikes (DingTalk and WeCom Markdown honour no backslash escapes reliably; ``#`` only
where it would start a heading, so 「原话 #12」 reads the same on every channel), and
``://`` is broken so a pasted address is not turned into a link.

* :func:`dingtalk_markdown` — DingTalk ``sampleMarkdown`` / robot ``markdown``;
* :func:`wecom_markdown` — WeCom ``markdown`` (also ``<@userid>`` mentions and ``<font>``);
* :func:`card_text` — text inside interactive cards (one line per field, no markup);
* :func:`wecom_text` — WeCom ``text`` messages, which turn ``<a href="…">`` into links;
* :func:`plain_text` — ordinary text messages (DingTalk, the console): no markup to escape, only
  invisible direction overrides and control characters removed.
"""

from __future__ import annotations

import re
import unicodedata

_MARKUP = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "|": "｜",
        "!": "！",
        "~": "～",
        "\\": "＼",
    }
)
_LINK = re.compile(r"(?i)(\w)://")
# ``#`` makes a heading only at the start of a line, also inside a list item (「- # 紧急通知」, 「1. # …」,
# 「+ - # …」); elsewhere (「原话 #12」) it stays as typed. Any blank counts as indentation (「　# …」).
_HEADING = re.compile(r"(?m)^([^\S\n]*(?:(?:[-+*]|\d{1,9}[.)])[^\S\n]+)*)(#+)")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _no_format_chars(text: str) -> str:
    # Bidi overrides and isolates, zero-width characters: they make text read differently than it is.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def plain_text(text: str) -> str:
    return _CONTROLS.sub("", _no_format_chars(text))


def wecom_text(text: str) -> str:
    """WeCom ``text`` messages render ``<a href="…">`` as a link: angle brackets become look-alikes."""
    return plain_text(text).replace("<", "＜").replace(">", "＞")


def _markdown(text: str) -> str:
    escaped = _HEADING.sub(lambda m: m.group(1) + "＃" * len(m.group(2)), plain_text(text).translate(_MARKUP))
    return _LINK.sub(r"\1：//", escaped)


def dingtalk_markdown(text: str) -> str:
    return _markdown(text)


def wecom_markdown(text: str) -> str:
    return _markdown(text)


def card_text(text: str) -> str:
    return _markdown(text)
