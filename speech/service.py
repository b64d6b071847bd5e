"""Composition: ``build(settings)`` gives the application its transcriber and quote recorder."""

from __future__ import annotations

import logging
from typing import Any

from config.settings import Settings
from speech import vocabulary
from speech.ledger import QuoteLedger
from speech.model import ModelNotFound, resolve
from speech.transcriber import WhisperTranscriber
from storage.db import Database

log = logging.getLogger("actionflow.speech")


def build(settings: Settings) -> tuple[WhisperTranscriber | None, QuoteLedger]:
    """The transcriber (``None`` when no model is configured or installable: voice notes are then kept
    but not transcribed, and the rep is told so) and the ledger. Nothing is loaded here unless
    ``speech.preload`` is set, and then in the background."""
    try:
        source = resolve(settings.speech)
    except ModelNotFound as exc:
        log.warning("voice notes will not be transcribed: %s", exc)
        return None, QuoteLedger()
    transcriber = WhisperTranscriber(settings.speech, source)
    if settings.speech.preload:
        transcriber.preload()
    return transcriber, QuoteLedger()


def attach_vocabulary(transcriber: Any, db: Database, settings: Settings) -> None:
    """Let the transcriber rebuild the company's vocabulary from this database when it is stale."""
    if not isinstance(transcriber, WhisperTranscriber):
        return

    async def load() -> vocabulary.Vocabulary:
        async with db.read() as session:
            return await vocabulary.load(session, settings)

    transcriber.vocabulary_loader = load
    transcriber.vocabulary = None  # built on the next note, from this database
