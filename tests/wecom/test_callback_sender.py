"""The channel's own signed-callback sender (selfcheck) against the emulator's independent crypto."""

from __future__ import annotations

from defusedxml import ElementTree as SafeET

from bot.channels.wecom.callback_sender import SignedCallbackSender
from emulators.wecom import crypto

TOKEN, CORP = "selfcheckToken1", "ww0123456789abcdef"


def test_a_sealed_callback_opens_with_the_spec_implementation() -> None:
    key = crypto.random_key()
    sender = SignedCallbackSender(
        "http://127.0.0.1:1/cb", token=TOKEN, encoding_aes_key=key, corp_id=CORP, agent_id=7
    )
    query, body = sender.seal("<xml><Content>你好</Content></xml>")
    encrypt = SafeET.fromstring(body).findtext("Encrypt") or ""
    assert query["msg_signature"] == crypto.signature(TOKEN, query["timestamp"], query["nonce"], encrypt)
    message, receive_id = crypto.decrypt(encrypt, key)
    assert message.decode() == "<xml><Content>你好</Content></xml>" and receive_id == CORP
    other_key = crypto.random_key()
    forged = SignedCallbackSender(
        "http://x/cb", token="other", encoding_aes_key=other_key, corp_id=CORP, agent_id=7
    )
    fq, _ = forged.seal("x")
    assert fq["msg_signature"] != crypto.signature(TOKEN, fq["timestamp"], fq["nonce"], encrypt)
