"""``actionflow wecom selfcheck``: what is wrong with a WeCom setup, in plain words.

Callback verification is the first thing that fails when a WeCom app is set up (a Token or
EncodingAESKey copied with a character missing, the CorpID of another company, a URL WeCom cannot
reach). This checks the configuration statically, then runs the real callback server locally and
sends it an encrypted URL verification and message signed with the channel's own crypto
(:mod:`bot.channels.wecom.callback_sender`). Secrets are never printed, only whether they are set
and how long they are.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Table

from bot.channels.wecom.approvals import CHINA
from bot.channels.wecom.callback_sender import SignedCallbackSender
from bot.channels.wecom.channel import split_listen
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.crypto import CallbackCrypto, key_problems
from bot.channels.wecom.inbound import Inbound
from bot.channels.wecom.server import CallbackServer
from bot.channels.wecom.store import ChannelStore
from config.settings import WeComSettings
from core.clock import SystemClock
from core.events import Event, TextEvent
from core.redact import redact
from storage.db import Database
from storage.models import Base, WeComApproval, WeComCard, WeComDelivery

CORP_ID = re.compile(r"^w[wx][0-9a-zA-Z]{16}$")
TOKEN = re.compile(r"^[0-9A-Za-z]{1,32}$")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    failed: int = 0

    def check(self, label: str, ok: bool, detail: str) -> bool:
        self.lines.append(f"  {label:<28} {'ok' if ok else 'PROBLEM'}  {redact(detail)}")
        self.failed += not ok
        return ok


def _secret(value: str) -> str:
    return f"set ({len(value)} characters)" if value else "empty"


def static_problems(s: WeComSettings) -> list[str]:
    """Configuration problems that need no network and no server (used by ``check-config`` too)."""
    problems: list[str] = []
    if not s.corp_id:
        problems.append("wecom.corp_id is empty: copy 企业ID from 我的企业 → 企业信息 (it starts with ww)")
    elif not CORP_ID.match(s.corp_id):
        problems.append(
            f"wecom.corp_id {s.corp_id!r} does not look like a CorpID (18 letters and digits starting "
            "with ww, or wx for old companies); copy 企业ID from 我的企业 → 企业信息"
        )
    if not s.agent_id:
        problems.append("wecom.agent_id is 0: copy AgentId from 应用管理 → your self-built app")
    if not s.secret.get_secret_value():
        problems.append("wecom.secret is empty: copy Secret from 应用管理 → your app (查看 Secret)")
    token = s.token.get_secret_value()
    if not token:
        problems.append("wecom.token is empty: copy Token from your app's 接收消息 → 设置API接收 page")
    elif not TOKEN.match(token):
        problems.append(
            "wecom.token may contain only letters and digits, at most 32 of them "
            "(check for spaces or a line break copied with it)"
        )
    problems += [f"wecom.encoding_aes_key: {p}" for p in key_problems(s.encoding_aes_key.get_secret_value())]
    if not s.callback_path.startswith("/"):
        problems.append(f"wecom.callback_path {s.callback_path!r} must start with /")
    try:
        split_listen(s.listen)
    except ValueError as exc:
        problems.append(str(exc))
    if urlsplit(s.api_base).scheme not in ("http", "https"):
        problems.append(f"wecom.api_base {s.api_base!r} must be an http(s) URL")
    if s.public_url:
        parts = urlsplit(s.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(
                f"wecom.public_url {s.public_url!r} must be an http(s) URL like https://bot.example.com"
            )
        elif parts.hostname in ("localhost", "127.0.0.1", "0.0.0.0") or parts.hostname.startswith("192.168."):
            problems.append(
                f"wecom.public_url points at {parts.hostname}, which WeCom's servers cannot reach; "
                "use the public address (domain) of this server"
            )
    for name, group in s.groups.items():
        if not group.chat_id and not group.webhook_key.get_secret_value():
            problems.append(f"wecom.groups.{name} has neither chat_id nor webhook_key")
    return problems


def callback_url(s: WeComSettings) -> str:
    return s.public_url.rstrip("/") + s.callback_path if s.public_url else ""


class _Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def submit(self, event: Event) -> bool:
        self.events.append(event)
        return True


async def round_trip(s: WeComSettings, report: Report) -> None:
    """Serve the real callback code path on 127.0.0.1 and talk to it like WeCom would."""
    token, key = s.token.get_secret_value(), s.encoding_aes_key.get_secret_value()
    try:
        crypto = CallbackCrypto(
            token=token,
            encoding_aes_key=key,
            corp_id=s.corp_id,
            replay_window_s=s.replay_window_s,
            now=time.time,
        )
    except ValueError:
        report.check("local round trip", False, "skipped: the EncodingAESKey is unusable (see above)")
        return
    sink = _Sink()
    failed_before = report.failed
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'selfcheck.db'}")
        async with db.engine.begin() as conn:
            tables: list[Table] = [
                WeComCard.__table__,  # type: ignore[list-item]
                WeComApproval.__table__,  # type: ignore[list-item]
                WeComDelivery.__table__,  # type: ignore[list-item]
            ]
            await conn.run_sync(lambda c: Base.metadata.create_all(c, tables=tables))
        store = ChannelStore(db)
        client = WeComClient(s.corp_id or "-", "-", api_base=s.api_base, agent_id=s.agent_id)
        inbound = Inbound(
            settings=s,
            crypto=crypto,
            store=store,
            client=client,
            sink=sink,
            clock=SystemClock(),
            tz=CHINA,
            spawn=lambda coro: coro.close(),
        )
        server = CallbackServer(
            path=s.callback_path if s.callback_path.startswith("/") else "/" + s.callback_path,
            max_body_bytes=s.max_body_bytes,
            verify=inbound.verify,
            receive=inbound.receive,
        )
        await server.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.port}{server.path}"
        common: dict[str, Any] = {"encoding_aes_key": key, "corp_id": s.corp_id, "agent_id": s.agent_id}
        try:
            async with SignedCallbackSender(url, token=token, **common) as wecom:
                echo = str(secrets.randbelow(10**18))
                got = await wecom.verify_url(echo)
                report.check(
                    "URL verification (GET)",
                    got.status == 200 and got.body == echo,
                    "the server echoes the decrypted echostr"
                    if got.status == 200 and got.body == echo
                    else f"answered {got.status}",
                )
                posted = await wecom.text("selfcheck", "ActionFlow 自检消息")
                ok = (
                    posted.status == 200
                    and posted.body == ""
                    and any(isinstance(e, TextEvent) and e.text == "ActionFlow 自检消息" for e in sink.events)
                )
                report.check(
                    "encrypted message (POST)",
                    ok,
                    "decrypted, parsed and answered 200 with an empty body"
                    if ok
                    else f"answered {posted.status}",
                )
            async with SignedCallbackSender(url, token=token + "x", **common) as forger:
                forged = await forger.text("selfcheck", "forged")
                report.check(
                    "forged signature refused",
                    forged.status == 403,
                    "403" if forged.status == 403 else f"answered {forged.status}",
                )
        finally:
            await server.stop()
            await db.dispose()
    if report.failed > failed_before:
        report.problems.append(
            "the local round trip failed: the callback code path does not accept what WeCom sends; "
            "please report this with the output of this command"
        )


def known_answer(report: Report) -> None:
    """Tencent's published sample still decrypts with the installed wechatpy/cryptography."""
    crypto = CallbackCrypto(
        token="QDG6eK",
        encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        corp_id="wx5823bf96d3bd56c7",
        replay_window_s=300,
        now=lambda: 1409659589,
    )
    query = {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    }
    try:
        ok = crypto.verify_url(query) == "1616140317555161061"
    except Exception:
        ok = False
    report.check(
        "Tencent's sample vector", ok, "wechatpy decrypts it" if ok else "the crypto library is broken"
    )
    if not ok:
        report.problems.append(
            "the installed wechatpy/cryptography cannot decrypt Tencent's own sample: reinstall "
            "wechatpy[cryptography]==1.8.18 with cryptography>=3.1"
        )


def online(s: WeComSettings, report: Report) -> None:
    """``gettoken`` against ``api_base``: proves the CorpID and Secret belong together."""
    client = WeComClient(
        s.corp_id, s.secret.get_secret_value(), api_base=s.api_base, agent_id=s.agent_id, timeout=10
    )
    try:
        client.fetch_access_token()
    except Exception as exc:
        code = int(getattr(exc, "errcode", None) or 0)
        explain = {
            40013: "WeCom does not know this CorpID (a new company's CorpID can take ~30 minutes to work)",
            40001: "the Secret does not belong to this CorpID (copy it again from 应用管理 → your app)",
            60020: "this server's IP is not in the app's 企业可信IP list",
        }.get(code, redact(f"{type(exc).__name__}: {getattr(exc, 'errmsg', exc)}"))
        report.check("access token (online)", False, explain)
        report.problems.append(f"gettoken at {s.api_base} failed: {explain}")
        return
    report.check("access token (online)", True, f"CorpID and Secret accepted by {s.api_base}")


async def probe(url: str, s: WeComSettings, report: Report) -> None:
    """Send a signed URL verification to the running bot at ``url``, as WeCom does on 保存."""
    import aiohttp

    sender = SignedCallbackSender(
        url,
        token=s.token.get_secret_value(),
        encoding_aes_key=s.encoding_aes_key.get_secret_value(),
        corp_id=s.corp_id,
        agent_id=s.agent_id,
        timeout_s=10,
    )
    echo = str(secrets.randbelow(10**18))
    try:
        async with sender:
            got = await sender.verify_url(echo)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        why = f"cannot connect ({type(exc).__name__}): is the bot running and the port open to the internet?"
        report.check("probe of the running bot", False, why)
        report.problems.append(f"{url}: {why}")
        return
    if got.status == 200 and got.body == echo:
        report.check("probe of the running bot", True, f"{url} echoes correctly; WeCom will accept it")
        return
    why = {
        403: "the bot refused the signature: its Token/EncodingAESKey differ from this configuration, or "
        "its clock is more than replay_window_s off",
        400: "the bot could not decrypt: its EncodingAESKey or CorpID differ from this configuration",
        404: "nothing answers at that path: check wecom.callback_path and the reverse proxy",
    }.get(got.status, f"answered HTTP {got.status}")
    report.check("probe of the running bot", False, why)
    report.problems.append(f"{url}: {why}")


def selfcheck(s: WeComSettings, *, enabled_requested: bool, go_online: bool, probe_url: str) -> Report:
    report = Report()
    report.lines.append("Configuration")
    report.check("corp id", bool(CORP_ID.match(s.corp_id)), s.corp_id or "empty")
    report.check("agent id", s.agent_id > 0, str(s.agent_id))
    report.check("secret", bool(s.secret.get_secret_value()), _secret(s.secret.get_secret_value()))
    token = s.token.get_secret_value()
    report.check("token", bool(TOKEN.match(token)), _secret(token))
    key = s.encoding_aes_key.get_secret_value()
    report.check("EncodingAESKey", not key_problems(key), _secret(key))
    report.problems += static_problems(s)
    if not (s.enabled or enabled_requested):
        report.notes.append(
            "wecom.enabled is false: the bot will not serve the WeCom callback until it is true"
        )
    if not s.visit_template_ids:
        report.notes.append(
            "wecom.visit_template_ids is empty: approval callbacks will be ignored. Add the template id of "
            "your 客户拜访申请 (审批 → 模板 → template id, or TemplateId in a callback) to react to visits"
        )
    if not s.public_url:
        report.notes.append(
            "wecom.public_url is empty, so the URL to register cannot be printed; set it to this server's "
            "public https address"
        )
    report.lines.append("")
    report.lines.append("Local checks")
    known_answer(report)
    quiet = logging.getLogger("bot.channels.wecom")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the forged request is refused on purpose; no warning for it
    try:
        asyncio.run(round_trip(s, report))
    finally:
        quiet.setLevel(level)
    if go_online:
        online(s, report)
    if probe_url:
        asyncio.run(probe(probe_url, s, report))
    return report
