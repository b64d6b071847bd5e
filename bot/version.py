"""The installed ActionFlow version (from the package metadata; pyproject.toml sets it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def actionflow_version() -> str:
    try:
        return version("actionflow")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
