"""``actionflow``: the bot and its operations tools. Each module in COMMAND_MODULES adds subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES: tuple[str, ...] = ("bot.cli.core",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionflow",
        description="ActionFlow (动作流): a chat bot for B2B sales teams on DingTalk and WeCom.",
        epilog="Configuration: --config PATH, or ACTIONFLOW_CONFIG, or ./actionflow.toml; "
        "override any key with ACTIONFLOW_<SECTION>__<KEY>. See docs/configuration.md.",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file")
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override app.log_level"
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
