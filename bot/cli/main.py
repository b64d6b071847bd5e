"""``actionflow``: the bot and its operations tools. Each module in COMMAND_MODULES adds subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

from bot.version import actionflow_version

COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.core",
    "bot.cli.org",
    "bot.cli.manager",
    "bot.cli.wecom",
    "bot.cli.dingtalk",
    "bot.cli.speech",
    "bot.cli.customers",
    "bot.cli.ops",
    "bot.cli.backup",
    "bot.cli.init",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionflow",
        description="ActionFlow (动作流): a chat bot for B2B sales teams on DingTalk and WeCom.",
        epilog="Configuration: --config PATH, or ACTIONFLOW_CONFIG, or ./actionflow.toml; "
        "override any key with ACTIONFLOW_<SECTION>__<KEY>. See docs/configuration.md.",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file")
    parser.add_argument("--version", action="version", version=f"actionflow {actionflow_version()}")
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override app.log_level"
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    imp = sub.add_parser("import", help="import customers or users from CSV/XLSX (validated, all or nothing)")
    imp_sub = imp.add_subparsers(dest="what", metavar="<what>")
    exp = sub.add_parser("export", help="export data in the format `import` reads")
    exp_sub = exp.add_subparsers(dest="what", metavar="<what>")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
        # Modules may also add `import <what>` / `export <what>` subcommands.
        if hasattr(module, "register_import"):
            module.register_import(imp_sub)
        if hasattr(module, "register_export"):
            module.register_export(exp_sub)
    for group, parser_ in ((imp, imp), (exp, exp)):
        group.set_defaults(func=lambda args, p=parser_: (p.print_help(), 2)[1])
    return parser


def _describe_all(parser: argparse.ArgumentParser) -> None:
    """Every subcommand's ``--help`` opens with a description (its one-line help when none is set)."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            if not sub.description and helps.get(name):
                text = str(helps[name])
                sub.description = text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
            _describe_all(sub)


def main(argv: list[str] | None = None) -> int:
    from bot.cli.common import EXIT_CONFIG
    from config.settings import ConfigSyntaxError

    parser = build_parser()
    _describe_all(parser)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigSyntaxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
