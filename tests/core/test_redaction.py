"""No secret reaches a log, the database or command output when every platform call fails on the network.

The WeCom and DingTalk settings point at a closed local port: ``gettoken`` (whose URL carries
``corpsecret``), message and group sends, the group webhooks (``key`` / ``access_token`` + ``sign``
in the URL), DingTalk's token call and media downloads all fail with connection errors.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.dingtalk.channel import DingTalkChannel
from bot.cli.main import main
from bot.logging import configure
from bot.outbox_sender import OutboxSender
from config.settings import DingTalkSettings, OutboxSettings
from core.channel import Target
from core.events import MediaRef
from core.messages import Markdown, Text
from core.redact import redact
from domain.outbox import enqueue
from emulators.wecom import samples
from storage.models import InboundEvent, JobRun, OutboxMessage
from tests.wecom.world import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, wecom_world

DT_SECRET = "dtSecret-0123456789abcdefABCDEF"
DT_HOOK, DT_SIGN_SECRET = "dtHookToken0123456789", "SECdtSign0123456789abcdef"
WECOM_HOOK_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


SECRETS = (SECRET, TOKEN, AES_KEY, DT_SECRET, DT_HOOK, DT_SIGN_SECRET, WECOM_HOOK_KEY)


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows a secret: {text[:300]}"
    unmasked = re.search(r"[?&](corpsecret|access_token|sign|key)=(?!\*\*\*)", text)
    assert unmasked is None, f"{where}: {text[unmasked.start() : unmasked.start() + 60]}"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def test_redact_masks_urls_bodies_headers_and_known_values() -> None:
    samples_ = {
        "/cgi-bin/gettoken?corpid=ww1&corpsecret=abc123": "/cgi-bin/gettoken?corpid=ww1&corpsecret=***",
        "/robot/send?access_token=t0k&timestamp=1&sign=a%2Bb": "/robot/send?access_token=***&timestamp=1&sign=***",
        '{"appKey": "ding1", "appSecret": "s3"}': '{"appKey": "ding1", "appSecret": "***"}',
        "{'client_secret': 'zz', 'n': 1}": "{'client_secret': '***', 'n': 1}",
        "x-acs-dingtalk-access-token: abc": "x-acs-dingtalk-access-token: ***",
        "postgresql+asyncpg://bot:pw@db/prod": "postgresql+asyncpg://bot:***@db/prod",
    }
    DingTalkSettings(client_secret=DT_SECRET)  # loading settings registers their secrets
    samples_[f"{DT_SECRET}!"] = "***!"
    for raw, expected in samples_.items():
        assert redact(raw) == expected


async def test_network_errors_on_every_platform_call_leak_no_secret(
    tmp_path: Path, db_url: str, log_text: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.testing import make_settings

    closed = closed_port()
    base = make_settings(tmp_path, db_url=db_url)
    wecom = {
        "api_base": closed,
        "groups": {"managers": {"chat_id": "wrc1"}, "sales": {"webhook_key": WECOM_HOOK_KEY}},
    }
    dingtalk = DingTalkSettings(
        enabled=True,
        client_id="dingclient01",
        client_secret=DT_SECRET,
        api_base=closed,
        oapi_base=closed,
        groups={"field": {"webhook_token": DT_HOOK, "webhook_secret": DT_SIGN_SECRET}},
    )
    async with wecom_world(tmp_path, settings=base, wecom=wecom) as w:
        bot = w.bot
        await bot.add_user("wanglei", "王磊")
        # WeCom media: a photo whose download fails (gettoken on the closed port).
        photo = samples.image(
            CORP_ID,
            AGENT_ID,
            "wanglei",
            "MEDIA-1",
            msg_id=w.wecom.next_msg_id(),
            create_time=w.wecom.create_time(),
        )
        assert (await w.wecom.post(photo)).status == 200
        await bot.settle()
        # WeCom sends: to a user, an app group chat and a group webhook.
        async with bot.session() as session:
            for n, (channel, kind, target) in enumerate(
                [
                    ("wecom", "user", "wanglei"),
                    ("wecom", "group", "managers"),
                    ("wecom", "group", "sales"),
                    ("dingtalk", "user", "manager4512"),
                    ("dingtalk", "group", "field"),
                ]
            ):
                message = Markdown(title="提醒", text="客户跟进提醒") if n % 2 else Text(text="你好")
                await enqueue(
                    session,
                    now=bot.clock.now(),
                    channel=channel,
                    target_kind=kind,
                    target=target,
                    message=message,
                    key=f"leak:{n}",
                )
        dt = DingTalkChannel(dingtalk, clock=bot.clock, data_dir=tmp_path / "dt", timezone="Asia/Shanghai")
        try:
            channels = {"wecom": w.channel, "dingtalk": dt}
            await OutboxSender(bot.app.db, bot.clock, channels, OutboxSettings(max_attempts=1)).drain()
            with pytest.raises(Exception) as media_error:
                await dt.fetch_media(MediaRef(token="downloadCode1", filename="a.jpg"))
            logging.getLogger("test").warning("dingtalk media failed: %s", media_error.value)
            with pytest.raises(Exception) as send_error:
                await dt.send(Target("group", "field"), Text(text="hi"), key="direct")
            logging.getLogger("test").error("webhook failed", exc_info=send_error.value)
        finally:
            await dt.api.close()
        async with bot.session() as session:
            errors = list((await session.execute(select(OutboxMessage.last_error))).scalars())
            errors += list((await session.execute(select(InboundEvent.error))).scalars())
            errors += list((await session.execute(select(JobRun.error))).scalars())
        assert sum(bool(e) for e in errors) >= 5, errors
        for error in errors:
            assert_clean("database", error or "")
        logs = log_text.getvalue()
        assert "Connect" in logs or "connect" in logs
        assert_clean("log", logs)

        config = tmp_path / "actionflow.toml"
        config.write_text(
            f'[database]\nurl = "{base.database.url}"\n\n[wecom]\nenabled = true\ncorp_id = "{CORP_ID}"\n'
            f'agent_id = {AGENT_ID}\nsecret = "{SECRET}"\ntoken = "{TOKEN}"\nencoding_aes_key = "{AES_KEY}"\n'
            f'api_base = "{closed}"\npublic_url = "https://bot.example.com"\n',
            encoding="utf-8",
        )
        assert await asyncio.to_thread(main, ["--config", str(config), "status"]) == 3
        out = capsys.readouterr()
        assert "attempts" in out.out
        assert_clean("actionflow status", out.out + out.err)
        await asyncio.to_thread(main, ["--config", str(config), "wecom", "selfcheck", "--online"])
        out = capsys.readouterr()
        assert "access token (online)" in out.out
        assert_clean("wecom selfcheck --online", out.out + out.err)


def test_a_contacts_read_that_cannot_connect_names_no_secret() -> None:
    from bot.channels.wecom.client import WeComClient
    from bot.channels.wecom.contacts import ContactsReadError, fetch_directory

    client = WeComClient(CORP_ID, SECRET, api_base=closed_port(), agent_id=AGENT_ID, timeout=2)
    with pytest.raises(ContactsReadError) as refused:
        fetch_directory(client)
    assert "network" in str(refused.value)
    assert_clean("contacts error", str(refused.value))
