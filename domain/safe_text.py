"""Names as they are stored: one visible form, so that look-alikes cannot pass as different names.

:func:`clean_name` is applied to every customer (and key person) name typed in chat or imported:

* NFKC (full-width letters and digits, compatibility forms and the ideographic space become their
  ordinary forms);
* invisible characters are removed: every Unicode *format* character (zero-width space/joiner,
  word joiner, BOM, soft hyphen, the bidi embeddings, overrides and isolates such as U+202E) and
  the blank "filler" letters that render as nothing;
* control characters (NUL, ESC, BEL, tab…) and line breaks are refused with a plain reason, since
  a name is one line; runs of spaces become one space.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that render as blanks although they are not format characters.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_LINE_BREAKS = frozenset("\n\r\u2028\u2029\x85\x0b\x0c")
_SPACES = re.compile(r"\s+")
MAX_NAME = 100


class BadText(ValueError):
    """The text cannot be stored as a name; ``str(exc)`` is a Chinese reason for the user."""


def is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf" or ch in _FILLERS


def strip_invisible(text: str) -> str:
    """``text`` without format characters (zero-width, bidi controls) and blank fillers."""
    return "".join(ch for ch in text if not is_invisible(ch))


def clean_name(raw: str, *, what: str = "名称") -> str:
    """The stored form of a name, or :class:`BadText` with the reason."""
    if any(ch in _LINE_BREAKS for ch in raw):
        raise BadText(f"{what}不能换行，请在一行内输入")
    text = unicodedata.normalize("NFKC", strip_invisible(unicodedata.normalize("NFKC", raw)))
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise BadText(f"{what}里有无法显示的控制字符，请重新输入")
    if any(ch in _LINE_BREAKS for ch in text):  # NFKC can produce none, but stay safe
        raise BadText(f"{what}不能换行，请在一行内输入")
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise BadText(f"{what}不能为空")
    if len(text) > MAX_NAME:
        raise BadText(f"{what}最多 {MAX_NAME} 个字，现在是 {len(text)} 个")
    return text


# A spreadsheet program runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_START)


_PLAIN_NUMBER = re.compile(r"[+-][\d\s().,-]*")


def formula_risk(text: str) -> bool:
    """Whether an imported cell would run as a formula when the data is exported and opened again.

    ``=``, ``@``, tab and CR always; ``+`` and ``-`` unless the cell is only a number (phone numbers
    such as +86 138…, amounts such as -5), so ``-2+3+cmd|' /C calc'!A0`` is caught.
    """
    if text.startswith(("=", "@", "\t", "\r")):
        return True
    return text.startswith(("+", "-")) and not _PLAIN_NUMBER.fullmatch(text)


def unwrap_cell(text: str) -> str:
    """A cell this bot exported with a protective apostrophe, as it was before (``'=x`` → ``=x``)."""
    return text[1:] if text.startswith("'") and looks_like_formula(text[1:]) else text


def neutralise_cell(value: object) -> object:
    """A value safe to write into an exported sheet: text that would run as a formula gets a leading
    apostrophe (shown as text by Excel, WPS and LibreOffice); other values are unchanged."""
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def tidy_name(raw: str) -> str:
    """:func:`clean_name` that never refuses: line breaks and controls become spaces (for names that
    arrive inside a longer answer, such as a key person's, where there is no one to ask again)."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" or ch in _LINE_BREAKS else ch for ch in raw)
    text = unicodedata.normalize("NFKC", strip_invisible(unicodedata.normalize("NFKC", text)))
    return _SPACES.sub(" ", text).strip()
