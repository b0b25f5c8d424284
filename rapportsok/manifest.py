"""The corpus manifest: one row per report with its provenance (``corpus/manifest.csv``).

Every problem is reported as ``manifest.csv:LINE: message`` so it can be fixed in an editor.
Manifest values override what :mod:`rapportsok.detect` finds in the text.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import municipalities
from .errors import CorpusError

MANIFEST_NAME = "manifest.csv"
COLUMNS = [
    "id", "file", "title", "municipality", "kommunkod", "county", "committee", "report_type",
    "period", "year", "document_date", "diarienummer", "source_url", "licence", "notes",
]
REQUIRED = ["id", "file"]
REPORT_TYPES = [
    "månadsrapport", "tertialrapport", "tertialbokslut", "delårsrapport", "delårsbokslut",
    "årsbokslut", "årsredovisning", "verksamhetsberättelse", "budget", "kallelse", "protokoll",
    "tjänsteskrivelse", "övrigt",
]
PERIOD_RE = re.compile(r"^(\d{4}|\d{4}-(0[1-9]|1[0-2])|T[123] \d{4}|Q[1-4] \d{4}|H[12] \d{4})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class ManifestEntry:
    line: int
    values: dict[str, str | int | None] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.values["id"])

    @property
    def file(self) -> str:
        return str(self.values["file"])


def load_manifest(corpus_dir: Path) -> dict[str, ManifestEntry]:
    """Read and validate the manifest. Returns entries keyed by file name (empty if no manifest)."""
    path = Path(corpus_dir) / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, f"manifest is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(raw.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise CorpusError(path, "manifest is empty; expected a header row: " + ",".join(COLUMNS), line=1) from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise CorpusError(path, f"unknown column(s) {unknown}; allowed: {', '.join(COLUMNS)}", line=1)
    for col in REQUIRED:
        if col not in header:
            raise CorpusError(path, f"missing required column '{col}'", line=1)
    entries: dict[str, ManifestEntry] = {}
    ids: dict[str, int] = {}
    for lineno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CorpusError(path, f"row has {len(row)} fields, header has {len(header)} (unquoted comma?)", line=lineno)
        values: dict[str, str | int | None] = {
            k: (v.strip() or None) for k, v in zip(header, row)
        }
        for col in COLUMNS:
            values.setdefault(col, None)
        _validate_row(path, lineno, values, corpus_dir)
        rid = str(values["id"])
        if rid in ids:
            raise CorpusError(path, f"duplicate id '{rid}' (first used on line {ids[rid]})", line=lineno)
        ids[rid] = lineno
        fname = str(values["file"])
        if fname in entries:
            raise CorpusError(path, f"file '{fname}' listed twice (first on line {entries[fname].line})", line=lineno)
        entries[fname] = ManifestEntry(line=lineno, values=values)
    return entries


def _validate_row(path: Path, lineno: int, v: dict, corpus_dir: Path) -> None:
    def fail(msg: str):
        raise CorpusError(path, msg, line=lineno)

    for col in REQUIRED:
        if not v.get(col):
            fail(f"'{col}' is empty")
    if not ID_RE.match(str(v["id"])):
        fail(f"id '{v['id']}' must be lower-case letters, digits, '-' or '_'")
    if "/" in str(v["file"]) or "\\" in str(v["file"]):
        fail(f"file '{v['file']}' must be a plain file name inside the corpus folder")
    if not (Path(corpus_dir) / str(v["file"])).is_file():
        fail(f"file '{v['file']}' does not exist in {corpus_dir}")
    code = v.get("kommunkod")
    if code:
        if not re.fullmatch(r"\d{4}", str(code)):
            fail(f"kommunkod '{code}' must be 4 digits (SCB code, e.g. 0880 for Kalmar)")
        m = municipalities.by_code().get(str(code))
        if m is None:
            fail(f"unknown kommunkod '{code}' (not one of the 290 SCB codes in rapportsok/data/kommuner.csv)")
        if v.get("municipality") and municipalities.lookup(str(v["municipality"])) != m:
            fail(f"municipality '{v['municipality']}' does not match kommunkod {code} ({m.kommun})")
        if v.get("county") and v["county"] != m.lan:
            fail(f"county '{v['county']}' does not match kommunkod {code} ({m.lan})")
    elif v.get("municipality"):
        m = municipalities.lookup(str(v["municipality"]))
        if m is None:
            fail(f"unknown municipality '{v['municipality']}'")
    if v.get("report_type") and v["report_type"] not in REPORT_TYPES:
        fail(f"report_type '{v['report_type']}' is not one of: {', '.join(REPORT_TYPES)}")
    if v.get("period") and not PERIOD_RE.match(str(v["period"])):
        fail(f"period '{v['period']}' must look like 2022, 2022-06, T2 2023, Q1 2022 or H1 2022")
    if v.get("year"):
        try:
            year = int(str(v["year"]))
        except ValueError:
            fail(f"year '{v['year']}' is not a number")
        if not 1971 <= year <= 2100:
            fail(f"year {year} is out of range (1971–2100)")
        v["year"] = year
    if v.get("document_date"):
        if not DATE_RE.match(str(v["document_date"])):
            fail(f"document_date '{v['document_date']}' must be YYYY-MM-DD")
        try:
            date.fromisoformat(str(v["document_date"]))
        except ValueError:
            fail(f"document_date '{v['document_date']}' is not a date in the calendar")
    if v.get("period") and v.get("year"):
        period_year = int(re.search(r"\d{4}", str(v["period"])).group(0))
        if period_year != v["year"]:
            fail(f"year {v['year']} contradicts period '{v['period']}' (year {period_year})")
    url = v.get("source_url")
    if url and url.lower() == "null":
        v["source_url"] = None
    elif url and not re.match(r"^https?://", url):
        fail(f"source_url '{url}' must start with http:// or https:// (or be empty)")
