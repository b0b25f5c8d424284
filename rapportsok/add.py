"""``rapportsok add FILE``: put a report into the corpus folder and give it a validated manifest row.

The file is read exactly as the build reads it (PDF text, OCR, properties), its metadata detected,
and the user's options win over what was detected. The manifest is rewritten atomically and
validated with the build's own manifest reader; on any error the corpus is left as it was.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from pathlib import Path

from . import municipalities
from .build import CORPUS_SUFFIXES
from .errors import CorpusError, RapportsokError
from .manifest import COLUMNS, DATE_RE, MANIFEST_NAME, PERIOD_RE, REPORT_TYPES, load_manifest
from .reports import load_report, slug
from .textio import DEFAULT_MAX_BYTES

DETECTED = ["title", "municipality", "kommunkod", "county", "committee", "report_type", "period", "year",
            "document_date", "diarienummer"]


def _options(kommun, typ, period, datum, url) -> dict:
    """The user's values, checked one by one with a message naming the option."""
    out: dict = {}
    if kommun:
        m = municipalities.by_code().get(kommun) or municipalities.lookup(kommun)
        if m is None:
            raise RapportsokError(f"--kommun: okänd kommun '{kommun}' (ange namn eller SCB-kod, t.ex. Kalmar eller 0880)")
        out.update(municipality=m.kommun, kommunkod=m.kommunkod, county=m.lan)
    if typ:
        if typ not in REPORT_TYPES:
            raise RapportsokError(f"--typ: '{typ}' är ingen rapporttyp; välj en av: {', '.join(REPORT_TYPES)}")
        out["report_type"] = typ
    if period:
        if not PERIOD_RE.match(period):
            raise RapportsokError(f"--period: '{period}' ska se ut som 2022, 2022-06, T2 2023, Q1 2022 eller H1 2022")
        out["period"] = period
        out["year"] = int(period[-4:]) if period[-4:].isdigit() else int(period[:4])
    if datum:
        if not DATE_RE.match(datum):
            raise RapportsokError(f"--datum: '{datum}' ska vara ÅÅÅÅ-MM-DD")
        out["document_date"] = datum
    if url:
        if not url.lower().startswith(("http://", "https://")):
            raise RapportsokError(f"--url: '{url}' ska börja med http:// eller https://")
        out["source_url"] = url
    return out


def add_report(file: Path, corpus: Path, kommun=None, typ=None, period=None, datum=None, url=None,
               max_bytes: int = DEFAULT_MAX_BYTES) -> dict:
    """Copy ``file`` into ``corpus`` and append its manifest row; returns the row written."""
    file = Path(file)
    if not file.is_file():
        raise RapportsokError(f"{file}: filen finns inte")
    if file.suffix.lower() not in CORPUS_SUFFIXES:
        raise RapportsokError(f"{file}: bara {', '.join(CORPUS_SUFFIXES)} kan läggas till")
    user = _options(kommun, typ, period, datum, url)
    corpus.mkdir(parents=True, exist_ok=True)
    manifest_path = corpus / MANIFEST_NAME
    entries = load_manifest(corpus)
    dest = corpus / file.name
    if dest.exists():
        raise RapportsokError(f"{dest}: det finns redan en fil med det namnet i korpusen")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    for other in corpus.iterdir():
        if other.is_file() and other.suffix.lower() in CORPUS_SUFFIXES and hashlib.sha256(other.read_bytes()).hexdigest() == digest:
            raise RapportsokError(f"{file}: samma fil finns redan i korpusen som {other.name}")
    report = load_report(file, None, max_bytes)          # read as the build will read it
    row = {c: None for c in COLUMNS}
    for name in DETECTED:
        fv = report.fields[name]
        if fv.value is not None:
            row[name] = fv.value
    row.update(user)
    ids = {e.id for e in entries.values()}
    rid, n = slug(file.stem), 2
    while rid in ids:
        rid, n = f"{slug(file.stem)}-{n}", n + 1
    row.update(id=rid, file=file.name)
    old = manifest_path.read_text(encoding="utf-8-sig") if manifest_path.exists() else None
    header = next(csv.reader([old.splitlines()[0]])) if old else COLUMNS
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([("" if row.get(c) is None else str(row[c])) for c in header])
    new = (old if old is None or old.endswith("\n") else old + "\n") if old else ",".join(COLUMNS) + "\n"
    new += buf.getvalue()
    shutil.copy2(file, dest)
    tmp = manifest_path.with_name(f".{MANIFEST_NAME}.adding-{os.getpid()}")
    try:
        tmp.write_text(new, encoding="utf-8")
        os.replace(tmp, manifest_path)
        load_manifest(corpus)                            # the build's own validation
    except (CorpusError, OSError):
        tmp.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
        if old is None:
            manifest_path.unlink(missing_ok=True)
        else:
            manifest_path.write_text(old, encoding="utf-8")
        raise
    evidence = {name: f"{report.fields[name].confidence}: {report.fields[name].evidence}" for name in DETECTED
                if name not in user and report.fields[name].value is not None}
    return {"row": {k: v for k, v in row.items() if v is not None}, "detected": evidence, "warnings": report.warnings}
