"""Applies the ``[security]`` limits to the readers that enforce them (spreadsheets, photos)."""

from __future__ import annotations

from config.settings import SecuritySettings
from domain import photos, sheets


def apply(settings: SecuritySettings) -> None:
    sheets.MAX_UNPACKED_BYTES = settings.import_max_unpacked_mb * 1024 * 1024
    sheets.MAX_ROWS = settings.import_max_rows
    photos.MAX_PIXELS = settings.photo_max_pixels
