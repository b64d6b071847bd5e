"""``actionflow``: the bot and its operations tools. Each module in COMMAND_MODULES adds subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.core",
    "bot.cli.org",
    "bot.cli.manager",
    "bot.cli.wecom",
    "bot.cli.dingtalk",
    "bot.cli.speech",
    "bot.cli.customers",
    "bot.cli.ops",
)


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
