"""Turn one corpus file into a parsed report: text, structure, passages and metadata.

Metadata comes from the manifest where it is given and from :mod:`rapportsok.detect`
otherwise; for every field the report records which of the two it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import municipalities
from .chunking import Chunk, chunk_document
from .detect import SURE, UNKNOWN, UNSURE, Detected, detect_all
from .ingest.pdf import PdfText, read_pdf
from .manifest import ManifestEntry
from .structure import Document, parse
from .tables import Table, tables_of
from .errors import CorpusError
from .textio import SourceText, read_report

METADATA_FIELDS = [
    "title", "municipality", "kommunkod", "county", "committee", "report_type", "period", "year",
    "document_date", "diarienummer", "source_url", "licence", "notes",
]
MUNICIPALITY_FIELDS = ("kommunkod", "municipality", "county")
# Fields where a free-text detection ("första raden som namnger en rapport") is expected to differ.
NOT_COMPARED = {"title", "committee"}


@dataclass
class FieldValue:
    value: object
    source: str            # "manifest", "detected" or "none"
    confidence: str        # "säker", "osäker", "okänd" (for manifest values: "säker")
    evidence: str
    detected: object = None
    detected_confidence: str = UNKNOWN
    inferred: bool = False  # the value is not printed in the text (shown to users as "härledd")
    inferred_evidence: str | None = None


@dataclass
class ParsedReport:
    id: str
    source: SourceText
    doc: Document
    chunks: list[Chunk]
    fields: dict[str, FieldValue]
    tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pdf: PdfText | None = None          # page map and properties of a PDF report (None for text files)

    def pages(self, start: int, end: int) -> tuple[int | None, int | None]:
        """First and last page of ``text[start:end]`` (None, None for text files)."""
        return self.pdf.span(start, end) if self.pdf else (None, None)

    def table_at(self, offset: int) -> Table | None:
        return next((t for t in self.tables if t.start <= offset < t.end + 1), None)

    @property
    def source_file(self) -> str:
        return self.source.path.name

    def value(self, name: str):
        return self.fields[name].value

    @property
    def municipality_inferred(self) -> bool:
        return self.fields["kommunkod"].inferred

    @property
    def municipality_evidence(self) -> str | None:
        """Why the municipality is what it is when it is not printed in the text."""
        return self.fields["kommunkod"].inferred_evidence

    def section_path(self, ordinal: int | None) -> list[str]:
        return self.doc.sections[ordinal].path if ordinal is not None else []


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "rapport"


def merge_metadata(path: Path, detected: dict[str, Detected], entry: ManifestEntry | None) -> tuple[dict[str, FieldValue], list[str]]:
    warnings: list[str] = []
    manifest = entry.values if entry else {}
    fields: dict[str, FieldValue] = {}
    for name in METADATA_FIELDS:
        det = detected.get(name)
        given = manifest.get(name)
        if given is not None:
            fv = FieldValue(given, "manifest", SURE, f"manifest.csv rad {entry.line}")
        elif det is not None and det.value is not None:
            fv = FieldValue(det.value, "detected", det.confidence, det.evidence)
        else:
            fv = FieldValue(None, "none", UNKNOWN, det.evidence if det else "anges bara i manifestet")
        if det is not None:
            fv.detected, fv.detected_confidence = det.value, det.confidence
        fields[name] = fv
    # Fill municipality and county from a manifest kommunkod.
    code = fields["kommunkod"].value
    if code and fields["kommunkod"].source == "manifest":
        mun = municipalities.by_code()[str(code)]
        for name, value in (("municipality", mun.kommun), ("county", mun.lan)):
            if fields[name].source != "manifest":
                fields[name] = FieldValue(value, "manifest", SURE, "från kommunkoden i manifestet",
                                          fields[name].detected, fields[name].detected_confidence)
    warnings += contradictions(path, detected, fields, entry)
    mark_inferred_municipality(detected, fields)
    return fields, warnings


def contradictions(path: Path, detected: dict[str, Detected], fields: dict[str, FieldValue],
                   entry: ManifestEntry | None) -> list[str]:
    """A warning for every manifest value that detection contradicts, naming both values.

    The municipality is one warning (kommunkod, name and county follow each other), also when
    detection is only *osäker* (inferred from actors or mentions); other fields warn when the
    text states a different value (*säker*).
    """
    out: list[str] = []
    where = f"{path}" + (f" (manifest.csv rad {entry.line})" if entry else "")
    det = detected.get("kommunkod")
    given = fields["kommunkod"]
    if given.source == "manifest" and det is not None and det.value and str(det.value) != str(given.value):
        names = municipalities.by_code()
        out.append(f"{where}: manifest says municipality {names[str(given.value)].kommun} ({given.value}) but detection says "
                   f"{names[str(det.value)].kommun} ({det.value}), {det.confidence}: {det.evidence}")
    for name in METADATA_FIELDS:
        d, fv = detected.get(name), fields[name]
        if name in MUNICIPALITY_FIELDS or name in NOT_COMPARED or d is None or d.value is None or fv.source != "manifest":
            continue
        if d.confidence == SURE and str(d.value) != str(fv.value):
            out.append(f"{where}: manifest says {name}={fv.value!r} but the text says {d.value!r} ({d.evidence})")
    return out


def mark_inferred_municipality(detected: dict[str, Detected], fields: dict[str, FieldValue]) -> None:
    """A municipality that is not printed in the text is marked as inferred, with the evidence."""
    code = fields["kommunkod"].value
    if not code:
        return
    det = detected.get("kommunkod")
    if det is not None and str(det.value) == str(code) and det.confidence == SURE and not det.inferred:
        return
    if det is not None and str(det.value) == str(code):
        evidence = det.evidence
    else:
        notes = fields["notes"].value if fields["notes"].source == "manifest" else None
        evidence = "kommunen är inte tryckt i texten; anges i manifestet" + (f": {notes}" if notes else "")
    for name in MUNICIPALITY_FIELDS:
        fields[name].inferred, fields[name].inferred_evidence = True, evidence
        if fields[name].source == "manifest":
            fields[name].evidence = f"{fields[name].evidence}; {evidence}"


PDF_SIZE_FACTOR = 10  # scanned PDFs are large: the size limit for a PDF is ten times that for text


def read_source(path: Path, max_bytes: int, log=None) -> tuple[SourceText, PdfText | None]:
    """The report text of a corpus file; for a PDF also its page map (the text is the PDF's extracted text)."""
    if path.suffix.lower() != ".pdf":
        return read_report(path, max_bytes=max_bytes), None
    size = path.stat().st_size
    if size > max_bytes * PDF_SIZE_FACTOR:
        raise CorpusError(path, f"file is {size / 1e6:.1f} MB; the limit for a PDF is {max_bytes * PDF_SIZE_FACTOR / 1e6:.1f} MB "
                                "(raise it with --max-file-mb)")
    if size == 0:
        raise CorpusError(path, "file is empty")
    pdf = read_pdf(path, log=log)
    return SourceText(path=path, text=pdf.text, sha256=pdf.sha256, encoding="pdf", warnings=list(pdf.warnings)), pdf


def pdf_detections(pdf: PdfText, detected: dict[str, Detected]) -> dict[str, Detected]:
    """The PDF's own properties fill what the text does not state: title, document date."""
    props = pdf.properties
    out = dict(detected)
    title = props.get("title")
    if title and (detected.get("title") is None or detected["title"].value is None):
        out["title"] = Detected(title, UNSURE, "PDF-egenskapen Title")
    created = props.get("created")
    if created and (detected.get("document_date") is None or detected["document_date"].value is None):
        out["document_date"] = Detected(created, UNSURE, "PDF-egenskapen CreationDate (när filen skapades)")
    return out


def load_report(path: Path, entry: ManifestEntry | None, max_bytes: int, log=None) -> ParsedReport:
    source, pdf = read_source(path, max_bytes, log)
    doc = parse(source.text)
    chunks = chunk_document(doc)
    detected = detect_all(source.text)
    if pdf is not None:
        detected = pdf_detections(pdf, detected)
    fields, warnings = merge_metadata(path, detected, entry)
    warnings = source.warnings + warnings
    if entry is None:
        summary = ", ".join(f"{k}={fields[k].value!r} ({fields[k].confidence})" for k in ("municipality", "report_type", "period"))
        warnings.append(f"{path}: not listed in manifest.csv; using detected metadata: {summary}")
    rid = entry.id if entry else slug(path.stem)
    return ParsedReport(id=rid, source=source, doc=doc, chunks=chunks, fields=fields, tables=tables_of(doc),
                        warnings=warnings, pdf=pdf)
