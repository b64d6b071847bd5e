"""``actionflow dingtalk …``: run the local DingTalk emulator (for the demo and manual testing)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from config.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dingtalk", help="DingTalk tools: a local DingTalk Open Platform emulator")
    dsub = p.add_subparsers(dest="dingtalk_command", metavar="<action>")
    emu = dsub.add_parser(
        "emulator",
        help="run the DingTalk emulator in the foreground and print how to point the bot at it",
        description="A local DingTalk Open Platform: Stream gateway (websocket), OpenAPI, custom robot "
        "webhooks, contacts. Drive it with POST /_emulator/text etc. (docs/dingtalk.md). Ctrl-C stops it.",
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    emu.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    emu.add_argument("--client-id", default="dingemuappkey", help="the app's clientId (AppKey)")
    emu.add_argument("--client-secret", default="emu-app-secret", help="the app's clientSecret")
    emu.add_argument("--ping-interval", type=float, default=30.0, help="seconds between SYSTEM pings")
    emu.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="TOKEN:SECRET",
        help="register a custom robot webhook",
    )
    emu.set_defaults(func=cmd_emulator)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def instructions(base_url: str, client_id: str, client_secret: str) -> str:
    return "\n".join(
        [
            f"DingTalk emulator listening on {base_url}",
            "",
            "Point the bot at it (environment):",
            "  export ACTIONFLOW_DINGTALK__ENABLED=true",
            f"  export ACTIONFLOW_DINGTALK__CLIENT_ID={client_id}",
            f"  export ACTIONFLOW_DINGTALK__CLIENT_SECRET={client_secret}",
            f"  export ACTIONFLOW_DINGTALK__API_BASE={base_url}",
            f"  export ACTIONFLOW_DINGTALK__OAPI_BASE={base_url}",
            "or in actionflow.toml:",
            "  [dingtalk]",
            "  enabled = true",
            f'  client_id = "{client_id}"',
            f'  client_secret = "{client_secret}"',
            f'  api_base = "{base_url}"',
            f'  oapi_base = "{base_url}"',
            "",
            "Then, as a DingTalk user with staffId 0423297 (give a user that dingtalk id first):",
            f'  curl -s {base_url}/_emulator/text -d \'{{"staff_id": "0423297", "text": "帮助"}}\'',
            f"  curl -s {base_url}/_emulator/sent?to=0423297",
            "Ctrl-C stops the emulator.",
        ]
    )


def cmd_emulator(args: argparse.Namespace) -> int:
    from emulators.dingtalk.control import ControlledEmulator

    emulator = ControlledEmulator(
        client_id=args.client_id,
        client_secret=args.client_secret,
        host=args.host,
        port=args.port,
        ping_interval_s=args.ping_interval or None,
    )
    emulator.start()
    for spec in args.webhook:
        token, _, secret = spec.partition(":")
        emulator.add_webhook(token, secret)
    print(instructions(emulator.base_url, args.client_id, args.client_secret), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    finally:
        emulator.stop()
    print("emulator stopped", file=sys.stderr)
    return 0


def check_dingtalk(settings: Settings) -> list[str]:
    """Configuration problems of the ``dingtalk`` section, in plain words."""
    dt = settings.dingtalk
    if not dt.enabled:
        return []
    problems = []
    for key in ("api_base", "oapi_base"):
        if not str(getattr(dt, key)).startswith(("http://", "https://")):
            problems.append(f"dingtalk.{key} must start with http:// or https://")
    for name, group in dt.groups.items():
        has_hook = bool(group.webhook_token.get_secret_value())
        if not has_hook and not group.open_conversation_id:
            problems.append(f"dingtalk.groups.{name}: set open_conversation_id or webhook_token")
        if has_hook and group.open_conversation_id:
            problems.append(f"dingtalk.groups.{name}: set open_conversation_id or webhook_token, not both")
        secret = group.webhook_secret.get_secret_value()
        if has_hook and secret and not secret.startswith("SEC"):
            problems.append(f"dingtalk.groups.{name}.webhook_secret should start with SEC (the 加签 secret)")
    return problems
