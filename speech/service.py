"""Composition: ``build(settings)`` gives the application its transcriber and quote recorder."""

from __future__ import annotations

import logging

from config.settings import Settings
from speech.ledger import QuoteLedger
from speech.model import ModelNotFound, resolve
from speech.transcriber import WhisperTranscriber

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
