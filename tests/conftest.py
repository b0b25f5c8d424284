"""Shared fixtures: the real corpus, built once per test session into a temporary folder."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from datasette.app import Datasette

from rapportsok.cli import datasette_kwargs
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


# The five corpus reports typeset as PDFs by tests/fixtures/make_pdfs.py, by the text file they were made from.
PDF_FIXTURES = ROOT / "tests" / "fixtures" / "pdf"
TEXT_TO_PDF = {
    "000_f034ae467e1d69b6.txt": "kalmar-manadsrapport-2022-06.pdf",
    "001_63e6c9868031b1b7.txt": "kalmar-kallelse-2022-05-24.pdf",
    "002_296cc42e6fadf766.txt": "nacka-tertialbokslut-2-2023.pdf",
    "003_aa15bfdefd7f5155.txt": "helsingborg-arsbokslut-2021.pdf",
    "004_85a1eb49e75a5e5b.txt": "kungsor-manadsrapport-2019-02.pdf",
}


@pytest.fixture(scope="session")
def pdf_corpus(tmp_path_factory, corpus_dir) -> Path:
    """The five PDFs with the corpus manifest's rows (file names changed), Kungsör's row left out."""
    folder = tmp_path_factory.mktemp("pdfcorpus")
    for pdf in PDF_FIXTURES.glob("*.pdf"):
        shutil.copy(pdf, folder / pdf.name)
    lines = (corpus_dir / "manifest.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        for txt, pdf in TEXT_TO_PDF.items():
            if txt in line and not pdf.startswith("kungsor"):
                out.append(line.replace(txt, pdf))
    (folder / "manifest.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def pdf_build(pdf_corpus, tmp_path_factory):
    db = tmp_path_factory.mktemp("pdfdb") / "rapportsok.db"
    result = build(BuildOptions(corpus=pdf_corpus, db_path=db, embed=False, quiet=True))
    return db, result


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the corpus for tests that break it."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


def source_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8-sig")


@pytest.fixture(scope="session")
async def ds(built_db):
    """The site as Datasette serves it (plugins, templates, metadata), on the session database."""
    datasette = Datasette(**datasette_kwargs(built_db, settings={"sql_time_limit_ms": 3000}))
    await datasette.invoke_startup()
    return datasette
