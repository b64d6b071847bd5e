"""Callback verification and decryption: wechatpy's ``WeChatCrypto`` plus what it leaves out.

wechatpy 1.8.18 checks the signature and decrypts, but never looks at the timestamp (replays), raises
two unrelated exception classes for a bad signature and a wrong CorpID, and lets low-level errors
(``struct.error``, ``IndexError``, ``UnicodeDecodeError``, ``ValueError``…) escape for a wrong key or
garbage ciphertext. :class:`CallbackCrypto` turns every outcome into either the
plaintext or a :class:`CallbackRejected` carrying the HTTP status to answer.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Callable, Mapping

from defusedxml import ElementTree as SafeET
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

KEY_ALPHABET = frozenset(string.ascii_letters + string.digits)


class CallbackRejected(Exception):
    """The callback must be refused with ``status``; ``reason`` is for the log, never for the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def key_problems(encoding_aes_key: str) -> list[str]:
    """What is wrong with an EncodingAESKey, in plain words (empty when it is usable)."""
    key = encoding_aes_key
    if not key:
        return ["the EncodingAESKey is empty"]
    problems = []
    if key != key.strip():
        problems.append("the EncodingAESKey has spaces or a line break around it; remove them")
        key = key.strip()
    if len(key) != 43:
        problems.append(
            f"the EncodingAESKey has {len(key)} characters; WeCom's is exactly 43 "
            "(copy it again from the app's 接收消息 settings, it is easy to miss the last character)"
        )
    bad = sorted({c for c in key if c not in KEY_ALPHABET})
    if bad:
        shown = " ".join(repr(c) for c in bad[:5])
        problems.append(f"the EncodingAESKey may contain only letters and digits; found {shown}")
    if not problems:
        try:
            raw = base64.b64decode(key + "=", validate=True)
        except (binascii.Error, ValueError):
            problems.append("the EncodingAESKey is not valid base64")
        else:
            if len(raw) != 32:
                problems.append(f"the EncodingAESKey decodes to {len(raw)} bytes instead of 32")
    return problems


def envelope_encrypt(body: bytes) -> str:
    """The ``Encrypt`` element of a POST body. DTDs and entities are refused before any parsing."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden, …
        raise CallbackRejected(400, f"unreadable envelope: {type(exc).__name__}") from None
    node = root.find("Encrypt")
    if root.tag != "xml" or node is None or not (node.text or "").strip():
        raise CallbackRejected(400, "envelope without Encrypt")
    return (node.text or "").strip()


class CallbackCrypto:
    def __init__(
        self,
        *,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        replay_window_s: float,
        now: Callable[[], float],
    ) -> None:
        problems = key_problems(encoding_aes_key)
        if problems:
            raise ValueError("; ".join(problems))
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        self.corp_id = corp_id
        self.replay_window_s = replay_window_s
        self._now = now

    @staticmethod
    def _params(query: Mapping[str, str], *names: str) -> list[str]:
        values = [query.get(n, "") for n in names]
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        if missing:
            raise CallbackRejected(400, f"missing query parameter(s): {', '.join(missing)}")
        return values

    def check_fresh(self, timestamp: str) -> None:
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise CallbackRejected(400, "timestamp is not a number")
        skew = self._now() - int(timestamp)
        if abs(skew) > self.replay_window_s:
            raise CallbackRejected(
                403,
                f"timestamp is {skew:+.0f} s from our clock (window ±{self.replay_window_s:.0f} s): "
                "a replay, or this server's clock is wrong",
            )

    def _decrypt(self, call: Callable[[], str]) -> str:
        try:
            return call()
        except InvalidSignatureException:
            raise CallbackRejected(403, "bad signature") from None
        except InvalidCorpIdException:
            raise CallbackRejected(400, "encrypted for another CorpID") from None
        except Exception as exc:  # a wrong key or garbage: struct/Index/Unicode/Value errors
            raise CallbackRejected(400, f"cannot decrypt: {type(exc).__name__}") from None

    def verify_url(self, query: Mapping[str, str]) -> str:
        """GET URL verification: the echostr's plaintext, to answer as the bare body."""
        signature, timestamp, nonce, echostr = self._params(
            query, "msg_signature", "timestamp", "nonce", "echostr"
        )
        self.check_fresh(timestamp)
        # A literal "+" that was not URL-encoded arrives as a space; base64 never has spaces.
        echostr = echostr.replace(" ", "+")
        return self._decrypt(lambda: self._crypto.check_signature(signature, timestamp, nonce, echostr))

    def open(self, query: Mapping[str, str], body: bytes) -> str:
        """POST: verify and decrypt; returns the plaintext XML."""
        signature, timestamp, nonce = self._params(query, "msg_signature", "timestamp", "nonce")
        self.check_fresh(timestamp)
        encrypt = envelope_encrypt(body)
        # A dict is passed so wechatpy does not parse the raw body a second time.
        return self._decrypt(
            lambda: self._crypto.decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce)
        )
