"""WeCom callback crypto written from Tencent's spec with ``cryptography`` only (no wechatpy).

The emulator and the test client encrypt with this, and the bot decrypts with wechatpy: a mismatch
between the two shows up as a failing test instead of two copies of the same mistake.

Spec (加解密方案说明, developer.work.weixin.qq.com/document/path/91144):

* ``AESKey = base64decode(EncodingAESKey + "=")`` (32 bytes), AES-256-CBC, ``IV = AESKey[:16]``;
* plaintext ``random(16) + len(msg) as 4 bytes big-endian + msg + receiveid`` (the CorpID),
  PKCS#7-padded to a multiple of **32** bytes;
* ``msg_signature = sha1("".join(sorted([token, timestamp, nonce, encrypt])))``, lower-case hex.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=", validate=True)
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise ValueError("bad padding")
    return data[:-n]


def encrypt(
    message: str | bytes, encoding_aes_key: str, receive_id: str, *, prefix: bytes | None = None
) -> str:
    """``msg_encrypt`` for ``message``; ``prefix`` (16 bytes) fixes the random part for known answers."""
    key = aes_key(encoding_aes_key)
    body = message.encode() if isinstance(message, str) else message
    prefix = prefix if prefix is not None else os.urandom(16)
    if len(prefix) != 16:
        raise ValueError("prefix must be 16 bytes")
    plain = _pad(prefix + struct.pack(">I", len(body)) + body + receive_id.encode())
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(msg_encrypt: str, encoding_aes_key: str) -> tuple[bytes, str]:
    """``(message, receive_id)`` from ``msg_encrypt``; raises ``ValueError`` when it is not well formed."""
    key = aes_key(encoding_aes_key)
    raw = base64.b64decode(msg_encrypt, validate=True)
    if not raw or len(raw) % 16:
        raise ValueError("ciphertext is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = _unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise ValueError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise ValueError("length field exceeds the plaintext")
    return plain[20 : 20 + length], plain[20 + length :].decode()


def random_key() -> str:
    """A fresh 43-character EncodingAESKey (what the WeCom admin console generates)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    while True:
        candidate = "".join(alphabet[b % 62] for b in os.urandom(43))
        # The 43rd character carries 2 spare bits; keep keys whose base64 form is canonical.
        if base64.b64encode(base64.b64decode(candidate + "=")).decode().rstrip("=") == candidate:
            return candidate
