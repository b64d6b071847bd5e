"""Configuration: typed settings plus data files (forms, demand themes) a company edits without code."""

from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
