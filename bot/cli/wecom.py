"""``actionflow wecom selfcheck`` and ``actionflow wecom emulator``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from bot.cli.common import EXIT_CONFIG, EXIT_ERROR, describe_validation_error
from config.settings import ConfigFileMissing, Settings, WeComSettings, load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wecom", help="WeCom (企业微信) tools: selfcheck of the app setup, local emulator")
    wsub = p.add_subparsers(dest="wecom_command", metavar="<action>")
    check = wsub.add_parser(
        "selfcheck",
        help="check the WeCom configuration, print the callback URL, run an encrypted round trip",
        description="Checks corp id, agent id, secret, Token and the 43-character EncodingAESKey, prints "
        "the callback URL to register, then runs the real callback code locally and sends it an "
        "encrypted URL verification and message made with an independent implementation. "
        "Secrets are never printed. Exit status 1 when something needs fixing.",
    )
    check.add_argument(
        "--online",
        action="store_true",
        help="also fetch an access token from wecom.api_base (CorpID + Secret)",
    )
    check.add_argument(
        "--probe",
        nargs="?",
        const="",
        default=None,
        metavar="URL",
        help="also send a signed URL verification to the running bot (default: public_url + callback_path)",
    )
    check.set_defaults(func=cmd_selfcheck)

    emu = wsub.add_parser(
        "emulator",
        help="run the local WeCom emulator in the foreground (type `<userid> <text>` to message the bot)",
        description="Serves gettoken, message/send, cards, media, approvals, app chats, group robots and "
        "contacts on a local port. Point wecom.api_base at it. Each line typed as `<userid> <text>` is "
        "sent to the bot's callback URL as an encrypted WeCom text callback; what the bot sends is printed.",
    )
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    emu.add_argument("--callback-url", default="", help="the bot's callback URL (default: from wecom.listen)")
    emu.set_defaults(func=cmd_emulator)

    def wecom_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=wecom_help)


def check_wecom(settings: Settings) -> list[str]:
    """For ``actionflow check-config``: static WeCom problems when the channel is enabled."""
    if not settings.wecom.enabled:
        return []
    from bot.channels.wecom.selfcheck import static_problems

    return static_problems(settings.wecom)


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _load(args: argparse.Namespace) -> tuple[WeComSettings, bool] | None:
    """The WeCom section, also when ``enabled = true`` with keys missing (then reported, not fatal)."""
    path = getattr(args, "config", None)
    try:
        return load_settings(path).wecom, False
    except ConfigFileMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    except ValidationError as exc:
        first = exc
    try:
        with _env("ACTIONFLOW_WECOM__ENABLED", "false"):
            return load_settings(path).wecom, True
    except ValidationError:
        pass
    print("error: the configuration has problems (run `actionflow check-config`):", file=sys.stderr)
    for problem in describe_validation_error(first):
        print(f"  - {problem}", file=sys.stderr)
    return None


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from bot.channels.wecom.selfcheck import callback_url, selfcheck

    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    wecom, enabled_requested = loaded
    url = callback_url(wecom)
    probe = args.probe if args.probe else (url if args.probe == "" else "")
    if args.probe == "" and not url:
        print("error: --probe needs a URL, or wecom.public_url to be set", file=sys.stderr)
        return EXIT_CONFIG
    report = selfcheck(wecom, enabled_requested=enabled_requested, go_online=args.online, probe_url=probe)
    print("WeCom self-check")
    print()
    print("\n".join(report.lines))
    print()
    if url:
        print("Callback URL to register (应用管理 → your app → 接收消息 → 设置API接收 → URL):")
        print(f"  {url}")
        print("  Token and EncodingAESKey there must be the ones in this configuration.")
        print()
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        print(f"{len(report.problems)} problem(s) to fix:")
        for problem in report.problems:
            print(f"  - {problem}")
        return EXIT_ERROR
    print("Everything checked is in order.")
    return 0


def _render(body: dict[str, Any]) -> str:
    kind = str(body.get("msgtype", ""))
    content = body.get(kind) or {}
    if kind in ("text", "markdown"):
        return str(content.get("content", ""))
    if kind == "template_card":
        return f"[卡片] {content.get('main_title', {}).get('title', '')}\n{content.get('sub_title_text', '')}"
    return f"[{kind}]"


def cmd_emulator(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_CONFIG
    wecom, _ = loaded
    return asyncio.run(_emulate(wecom, args))


async def _emulate(wecom: WeComSettings, args: argparse.Namespace) -> int:
    from bot.channels.wecom.channel import split_listen
    from emulators.wecom import CallbackSender, WeComEmulator

    corp_id = wecom.corp_id or "ww0000000000000000"
    secret = wecom.secret.get_secret_value() or "emulator-secret"
    agent_id = wecom.agent_id or 1000002

    def show(body: dict[str, Any]) -> None:
        for line in f"[→ {body.get('touser', '')}] {_render(body)}".splitlines():
            print(f"  {line}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything is printed: callers act on the output
        loop.add_signal_handler(sig, stop.set)
    emulator = WeComEmulator(
        corp_id=corp_id, secret=secret, agent_id=agent_id, host=args.host, port=args.port
    )
    emulator.on_message = show
    emulator.start()
    host, port = split_listen(wecom.listen)
    callback = (
        args.callback_url
        or f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}{wecom.callback_path}"
    )
    print(f"WeCom emulator on {emulator.base_url}", flush=True)
    print(f"  point the bot at it: ACTIONFLOW_WECOM__API_BASE={emulator.base_url}", flush=True)
    print(f"  corp_id={corp_id} agent_id={agent_id}; the secret is the configured one", flush=True)
    print(f"  type `<userid> <text>` to send a callback to {callback}; Ctrl-C stops", flush=True)
    sender: CallbackSender | None = None
    if wecom.token.get_secret_value() and wecom.encoding_aes_key.get_secret_value():
        sender = CallbackSender(
            callback,
            token=wecom.token.get_secret_value(),
            encoding_aes_key=wecom.encoding_aes_key.get_secret_value(),
            corp_id=corp_id,
            agent_id=agent_id,
        )

    lines: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:  # a daemon thread: a blocked readline must not hold up the exit
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=pump, name="stdin", daemon=True).start()

    async def read_lines() -> None:
        while True:
            userid, _, text = (await lines.get()).strip().partition(" ")
            if not userid or not text:
                continue
            if sender is None:
                print("  (set wecom.token and wecom.encoding_aes_key to send callbacks)", flush=True)
                continue
            try:
                posted = await sender.text(userid, text)
                print(f"  callback → {posted.status} in {posted.seconds * 1000:.0f} ms", flush=True)
            except Exception as exc:
                print(f"  callback failed: {type(exc).__name__}: {exc}", flush=True)

    reader = asyncio.create_task(read_lines())
    try:
        await stop.wait()
    finally:
        reader.cancel()
        if sender is not None:
            await sender.close()
        emulator.stop()
    return 0
