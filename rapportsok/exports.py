"""The one CSV writer for every CSV Rapportsök writes (search, batch, table and CLI exports).

Two variants:

* ``csv`` – for programs: comma, decimal point, UTF-8 with a BOM-free header, ``\\n`` line ends.
* ``excel`` – for Swedish Excel opened by double-click: semicolon, decimal comma, UTF-8 with a
  BOM (so å/ä/ö are read right) and ``\\r\\n`` line ends.

In both, text is protected against formula injection as OWASP recommends: a text cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe
(``'=HYPERLINK(…)``), so a spreadsheet shows it as text instead of evaluating it. Numbers
(``int``/``float`` values, and text that is a plain number such as ``-12`` or ``-3,5``) are never
changed. Ids such as ``kommunkod`` are written as text exactly as stored (``0180``); read them
as text (pandas: ``dtype={"kommunkod": str}``). Datasette's own raw exports (``/rapportsok/….csv``)
are not written here and are left as Datasette makes them.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Sequence

VARIANTS = ("csv", "excel")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d+)?|[.,]\d+)([eE][+-]?\d+)?$")
BOM = "\ufeff"


class _Line:
    """A file-like object that hands back what one ``csv.writer`` call wrote."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return len(s)

    def take(self) -> str:
        out = "".join(self.parts)
        self.parts.clear()
        return out


def variant_of(params: dict) -> str:
    """``?variant=excel`` (or ``excel=1``) chooses the Excel variant; anything else is plain CSV."""
    from .query import single_values

    params = single_values({k: params[k] for k in ("variant", "excel") if k in params})   # twice, differently: a 400
    value = params.get("variant") or ("excel" if str(params.get("excel") or "") in ("1", "true", "ja") else "csv")
    if value not in VARIANTS:
        from .errors import SearchError

        raise SearchError("variant", f"okänd CSV-variant '{value}'; välj csv eller excel")
    return value


def neutralise(text: str) -> str:
    """``'=1+1`` for ``=1+1``; plain numbers and harmless text unchanged."""
    if text and text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def cell(value, variant: str = "csv") -> str:
    """One value as CSV text in ``variant``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        return text.replace(".", ",") if variant == "excel" else text
    if isinstance(value, (list, tuple)):
        return neutralise(";".join(str(v) for v in value))
    return neutralise(str(value))


def rows(records: Iterable[dict | Sequence], fields: Sequence[str] | None = None, variant: str = "csv",
         header: Sequence[str] | None = None) -> Iterator[str]:
    """The CSV text line by line (BOM first for Excel): stream it, or ``"".join`` it.

    ``records`` are dicts (with ``fields`` naming the columns) or sequences (with ``header``).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown CSV variant {variant!r}")
    excel = variant == "excel"
    out = _Line()
    writer = csv.writer(out, delimiter=";" if excel else ",", lineterminator="\r\n" if excel else "\n")
    head = list(header if header is not None else fields or [])
    writer.writerow([cell(h, variant) for h in head])
    yield (BOM if excel else "") + out.take()
    for rec in records:
        values = [rec.get(f) for f in fields] if isinstance(rec, dict) else list(rec)
        writer.writerow([cell(v, variant) for v in values])
        yield out.take()


def render(records: Iterable[dict | Sequence], fields: Sequence[str] | None = None, variant: str = "csv",
           header: Sequence[str] | None = None) -> str:
    """The whole CSV as one string."""
    return "".join(rows(records, fields, variant, header))


def filename(stem: str, variant: str) -> str:
    return f"{stem}-excel.csv" if variant == "excel" else f"{stem}.csv"


def content_type(variant: str) -> str:
    return "text/csv; charset=utf-8"


def error_text(message: str, parameter: str | None = None) -> str:
    """The body of an error answer from a CSV route: plain text, never HTML."""
    return f"Fel: {message}" + (f" (parameter: {parameter})" if parameter else "") + "\n"
