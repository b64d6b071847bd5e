"""One redaction step for everything that leaves the process as text about a failure.

Error messages, log records, status lines and stored ``last_error`` values pass through :func:`redact`.
Two layers:

* **Known values.** Every secret the settings hold (``SecretStr`` fields: app secrets, callback
  tokens, AES keys, webhook tokens, database URLs) is registered with :func:`remember` when the
  settings are loaded; any occurrence of one is replaced, whatever text it hides in.
* **Shapes.** Credentials that are not configured values (an ``access_token`` the platform issued,
  a webhook ``sign``) are recognised by where they stand: URL query parameters
  (``?corpsecret=…&access_token=…``), JSON or Python-dict fields (``"appSecret": "…"``), HTTP headers
  (``x-acs-dingtalk-access-token: …``, ``Authorization: Bearer …``) and passwords in URLs
  (``postgresql://user:pw@host``).

The replacement is ``***``; the parameter name stays, so a message still says which call failed.
"""

from __future__ import annotations

import re
import threading

MASK = "***"

# Names whose value is a credential, in URLs, JSON bodies and headers (compared case-insensitively;
# ``_`` and ``-`` are optional so ``client_secret``, ``clientSecret`` and ``client-secret`` all match).
_NAMES = (
    "corp_?secret",
    "secret",
    "app_?secret",
    "client_?secret",
    "access_?token",
    "refresh_?token",
    "sign",
    "signature",
    "msg_?signature",
    "key",
    "webhook_?key",
    "webhook_?token",
    "webhook_?secret",
    "token",
    "encoding_?aes_?key",
    "password",
    "passwd",
)
_NAME = "(?:" + "|".join(n.replace("_?", "[_-]?") for n in _NAMES) + ")"

# ?name=value / &name=value / ;name=value, and a bare name=value at a word boundary.
_QUERY = re.compile(rf"(?i)(?<![A-Za-z0-9_])({_NAME})=([^&\s'\"<>,;)\]}}]+)")
# "name": "value" / 'name': 'value' (JSON and Python reprs).
_FIELD = re.compile(rf"(?i)([\"']{_NAME}[\"']\s*:\s*)([\"'])((?:\\.|(?!\2).)*)\2")
# Header lines: x-acs-dingtalk-access-token: value, Authorization: Bearer value.
_HEADER = re.compile(
    r"(?i)\b(x-acs-dingtalk-access-token|authorization|x-api-key)"
    r"(\"?\s*[:=]\s*\"?)([^\s\"',}]+(?: [^\s\"',}]+)?)"
)
# scheme://user:password@host
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)")

_MIN_KNOWN = 6  # shorter configured values (a demo "x") would mask ordinary words
_known: frozenset[str] = frozenset()  # replaced, never mutated: readers need no lock
_known_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()
# Every shape above contains one of these words; most log lines contain none and skip the shapes
# (plain substring tests: a case-insensitive regex alternation costs ten times as much).
_CUES = ("secret", "token", "sign", "key", "passw", "authorization", "://")


def remember(*values: str) -> None:
    """Register configured secret values: :func:`redact` replaces every occurrence of each."""
    global _known, _known_pattern
    with _lock:
        new = {v for v in values if v and len(v) >= _MIN_KNOWN} - _known
        if new:
            known = _known | new
            longest_first = sorted(known, key=len, reverse=True)
            _known_pattern = re.compile("|".join(re.escape(v) for v in longest_first))
            _known = known


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``***``."""
    if not text:
        return text
    known, pattern = _known, _known_pattern
    if pattern is not None and any(value in text for value in known):
        text = pattern.sub(MASK, text)
    lowered = text.lower()
    if not any(cue in lowered for cue in _CUES):
        return text
    text = _QUERY.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)


def redact_value(value: object) -> object:
    """:func:`redact` for strings; other values (numbers, booleans, None) unchanged."""
    return redact(value) if isinstance(value, str) else value
