"""Run ``actionflow`` in-process against a test database and capture what it printed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.main import main
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "users.example.csv"
T = TypeVar("T")


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.tmp_path = tmp_path
        self.url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        self.capsys = capsys
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ACTIONFLOW_DATABASE__URL", self.url)
        monkeypatch.setenv("ACTIONFLOW_APP__DATA_DIR", str(tmp_path / "data"))

    def __call__(self, *argv: str) -> Result:
        self.capsys.readouterr()
        try:
            code = main(["--log-level", "WARNING", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def export(self, name: str = "now.csv") -> str:
        path = self.tmp_path / name
        result = self("export", "users", str(path))
        assert result.code == 0, result.err
        return path.read_text(encoding="utf-8")

    def db(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def go() -> T:
            db = Database(self.url)
            try:
                async with db.transaction() as session:
                    return await fn(session)
            finally:
                await db.dispose()

        return asyncio.run(go())


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path
