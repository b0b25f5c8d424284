"""Default locations, relative to the project checkout (override with options or env)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    return Path(os.environ.get("RAPPORTSOK_CORPUS", PROJECT_ROOT / "corpus"))


def database_path() -> Path:
    return Path(os.environ.get("RAPPORTSOK_DB", PROJECT_ROOT / "build" / "rapportsok.db"))


def metadata_path() -> Path:
    return PROJECT_ROOT / "metadata.yml"


def plugins_dir() -> Path:
    return PROJECT_ROOT / "plugins"


def site_dir() -> Path:
    return PROJECT_ROOT / "site"


def cache_dir() -> Path:
    """Embedding cache and converted models (``build/cache``; ``RAPPORTSOK_CACHE`` overrides)."""
    return Path(os.environ.get("RAPPORTSOK_CACHE", PROJECT_ROOT / "build" / "cache"))
