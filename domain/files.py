"""Content-addressed file store under the data directory (audio, photos, reports)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MediaFile


class FileStore:
    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        # Absolute, so stored paths stay valid whatever directory a later command runs from.
        self.root = Path(root).resolve()

    def path_for(self, sha256: str, kind: str, ext: str) -> Path:
        ext = ext.lstrip(".").lower() or "bin"
        return self.root / kind / sha256[:2] / f"{sha256}.{ext}"

    def put(self, data: bytes, *, kind: str, ext: str) -> tuple[str, Path]:
        """Write ``data`` once (atomically); the same bytes always land at the same path."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha, kind, ext)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return sha, path

    async def record(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        data: bytes,
        kind: str,
        ext: str,
        mime: str = "",
        original_name: str = "",
        channel: str = "",
    ) -> MediaFile:
        sha, path = self.put(data, kind=kind, ext=ext)
        existing = (
            await session.execute(select(MediaFile).where(MediaFile.sha256 == sha))
        ).scalar_one_or_none()
        if existing is not None:
            if existing.kind == "file" and kind != "file":
                # The same bytes came as a plain file before (a photo sent as an attachment): they
                # are what this message says they are now, e.g. a picture a photo field can take.
                existing.kind = kind
            return existing
        row = MediaFile(
            sha256=sha,
            path=str(path),
            kind=kind,
            mime=mime,
            size=len(data),
            original_name=original_name,
            channel=channel,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return row
