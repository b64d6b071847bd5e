"""Callback crypto: Tencent's known answers, and our independent implementation against wechatpy."""

from __future__ import annotations

import pytest

from bot.channels.wecom.crypto import CallbackCrypto, CallbackRejected, envelope_encrypt, key_problems
from emulators.wecom import crypto, samples

# Tencent's WXBizMsgCrypt sample.
TOKEN = "QDG6eK"
KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP = "wx5823bf96d3bd56c7"
GET = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
    "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB"
    "3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H"
    "3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
POST = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
}


def server(now: float, corp: str = CORP, window: float = 300) -> CallbackCrypto:
    return CallbackCrypto(
        token=TOKEN, encoding_aes_key=KEY, corp_id=corp, replay_window_s=window, now=lambda: now
    )


def test_known_answer_url_verification() -> None:
    assert server(1409659589).verify_url(GET) == "1616140317555161061"
    plain, corp = crypto.decrypt(GET["echostr"], KEY)
    assert (plain, corp) == (b"1616140317555161061", CORP)
    assert crypto.signature(TOKEN, GET["timestamp"], GET["nonce"], GET["echostr"]) == GET["msg_signature"]


def test_known_answer_message() -> None:
    body = samples.envelope(CORP, 218, POST_ENCRYPT).encode()
    xml = server(1409659813).open(POST, body)
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in xml
    assert "<Content><![CDATA[hello]]></Content>" in xml and "<MsgId>4561255354251345929</MsgId>" in xml
    assert crypto.signature(TOKEN, POST["timestamp"], POST["nonce"], POST_ENCRYPT) == POST["msg_signature"]
    assert crypto.decrypt(POST_ENCRYPT, KEY)[0].decode() == xml


def test_independent_encryption_opens_with_wechatpy_and_back() -> None:
    text = "<xml><Content><![CDATA[采购成本太高了]]></Content></xml>"
    for size in (0, 1, 11, 12, 31, 32, 33, 100):  # around the 32-byte padding boundary
        message = text + " " * size
        encrypted = crypto.encrypt(message, KEY, CORP)
        query = {"timestamp": "1409659813", "nonce": "42"}
        query["msg_signature"] = crypto.signature(TOKEN, query["timestamp"], "42", encrypted)
        assert server(1409659813).open(query, samples.envelope(CORP, 1, encrypted).encode()) == message
    from wechatpy.enterprise.crypto import PrpCrypto

    sealed = PrpCrypto(crypto.aes_key(KEY)).encrypt(text, CORP).decode()
    assert crypto.decrypt(sealed, KEY) == (text.encode(), CORP)


def test_fixed_prefix_is_deterministic() -> None:
    prefix = b"0123456789abcdef"
    assert crypto.encrypt("hi", KEY, CORP, prefix=prefix) == crypto.encrypt("hi", KEY, CORP, prefix=prefix)
    assert crypto.encrypt("hi", KEY, CORP) != crypto.encrypt("hi", KEY, CORP)


def test_rejections_carry_the_right_status() -> None:
    body = samples.envelope(CORP, 218, POST_ENCRYPT).encode()
    with pytest.raises(CallbackRejected) as bad_sig:
        server(1409659813).open({**POST, "msg_signature": "0" * 40}, body)
    assert bad_sig.value.status == 403
    with pytest.raises(CallbackRejected) as other_corp:
        server(1409659813, corp="ww0000000000000000").open(POST, body)
    assert other_corp.value.status == 400
    with pytest.raises(CallbackRejected) as stale:
        server(1409659813 + 301).open(POST, body)
    assert stale.value.status == 403 and "replay" in stale.value.reason
    with pytest.raises(CallbackRejected) as future:
        server(1409659813 - 301).open(POST, body)
    assert future.value.status == 403
    with pytest.raises(CallbackRejected) as missing:
        server(1409659813).open({"timestamp": "1409659813"}, body)
    assert missing.value.status == 400


@pytest.mark.parametrize(
    "garbage",
    [
        "AAAA",  # too short for one block
        "QUJD" * 11,  # not a whole number of blocks
        "A" * 44,  # one block of zeros
        "!!!not base64!!!",
    ],
)
def test_every_low_level_decrypt_error_becomes_400(garbage: str) -> None:
    query = {"timestamp": "100", "nonce": "1"}
    query["msg_signature"] = crypto.signature(TOKEN, "100", "1", garbage)
    with pytest.raises(CallbackRejected) as rejected:
        server(100).open(query, samples.envelope(CORP, 1, garbage).encode())
    assert rejected.value.status == 400


def test_encrypted_with_another_key_is_400() -> None:
    other = crypto.random_key()
    encrypted = crypto.encrypt("<xml/>", other, CORP)
    query = {
        "timestamp": "100",
        "nonce": "1",
        "msg_signature": crypto.signature(TOKEN, "100", "1", encrypted),
    }
    with pytest.raises(CallbackRejected) as rejected:
        server(100).open(query, samples.envelope(CORP, 1, encrypted).encode())
    assert rejected.value.status == 400


def test_envelope_refuses_dtds_and_junk() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<xml><Encrypt>&b;</Encrypt></xml>"
    )
    for body in (bomb, b"not xml", b"<xml><Other>1</Other></xml>", b"<root><Encrypt>x</Encrypt></root>"):
        with pytest.raises(CallbackRejected) as rejected:
            envelope_encrypt(body)
        assert rejected.value.status == 400


def test_key_problems_in_plain_words() -> None:
    assert key_problems(KEY) == []
    assert key_problems(crypto.random_key()) == []
    assert "43" in key_problems(KEY[:-1])[0]
    assert "letters and digits" in key_problems(KEY[:-1] + "+")[0]
    assert "spaces" in key_problems(KEY + "\n")[0]
    assert key_problems("") == ["the EncodingAESKey is empty"]
    with pytest.raises(ValueError, match="43"):
        CallbackCrypto(token=TOKEN, encoding_aes_key="short", corp_id=CORP, replay_window_s=1, now=lambda: 0)
