"""Shared fixtures: the real corpus, built once per test session into a temporary folder."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from rapportsok.build import BuildOptions, build
from rapportsok.search import SearchIndex

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
# Embeddings are cached by content hash, so repeated test runs do not re-embed.
EMBED_CACHE = ROOT / "build" / "cache"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("db") / "rapportsok.db"
    build(BuildOptions(corpus=CORPUS, db_path=out, cache_dir=EMBED_CACHE, quiet=True))
    return out


@pytest.fixture(scope="session")
def conn(built_db) -> sqlite3.Connection:
    """A read connection to the session database, rows addressable by column name."""
    c = sqlite3.connect(built_db)
    c.row_factory = sqlite3.Row
    return c


@pytest.fixture(scope="session")
def index(built_db) -> SearchIndex:
    return SearchIndex(built_db)


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the corpus for tests that break it."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


def source_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8-sig")
