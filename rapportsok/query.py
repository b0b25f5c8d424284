"""Parse and validate a search request: the one place where user input is checked.

Used by the CLI, the JSON/CSV API and the web page alike, so every interface gives the
same clear (Swedish) error for the same bad input. Errors name the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from . import municipalities
from .errors import SearchError

MODES = ("hybrid", "semantic", "keyword")
KINDS = ("prose", "table")
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
MAX_EXPORT_LIMIT = 1000
MAX_OFFSET = 2000
YEAR_MIN, YEAR_MAX = 1971, 2100


@dataclass
class SearchRequest:
    q: str
    mode: str = "hybrid"
    kommunkoder: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    report_types: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    kind: str | None = None
    report_id: str | None = None
    limit: int = 10
    offset: int = 0
    collapse_duplicates: bool = True
    expand: bool = True          # meaning-aware modes: topic synonyms and spelling corrections (shown, can be turned off)

    def filters_description(self) -> dict:
        return {
            "kommunkod": self.kommunkoder, "year_from": self.year_from, "year_to": self.year_to,
            "report_type": self.report_types, "topic": self.topics, "kind": self.kind, "report_id": self.report_id,
        }


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = [value]
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in str(item).split(",") if p.strip())
    return out


def _int(name: str, value, lo: int, hi: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SearchError(name, f"'{value}' är inte ett heltal") from None
    if not lo <= number <= hi:
        raise SearchError(name, f"{number} ligger utanför det tillåtna intervallet {lo}–{hi}")
    return number


def parse_year(value) -> tuple[int | None, int | None]:
    """``2022``, ``2021-2023``, ``2021–`` or ``–2022``."""
    if value in (None, ""):
        return None, None
    text = str(value).strip().replace("–", "-")
    m = re.fullmatch(r"(\d{4})?\s*(-)?\s*(\d{4})?", text)
    if not m or not (m.group(1) or m.group(3)):
        raise SearchError("year", f"'{value}' är inget år; skriv t.ex. 2022 eller 2021-2023")
    lo = _int("year", m.group(1), YEAR_MIN, YEAR_MAX) if m.group(1) else None
    hi = _int("year", m.group(3), YEAR_MIN, YEAR_MAX) if m.group(3) else None
    if not m.group(2):
        hi = lo if lo is not None else hi
        lo = lo if lo is not None else hi
    if lo is not None and hi is not None and lo > hi:
        raise SearchError("year", f"startåret {lo} är senare än slutåret {hi}")
    return lo, hi


def resolve_kommuner(values: list[str]) -> list[str]:
    codes = []
    for v in values:
        mun = municipalities.lookup(v)
        if mun is None:
            raise SearchError("kommun", f"okänd kommun '{v}' (ange namn, t.ex. Nacka, eller kommunkod, t.ex. 0182)")
        codes.append(mun.kommunkod)
    return list(dict.fromkeys(codes))


# Parameters that may be repeated (?kommun=Nacka&kommun=Kalmar means either); every other
# parameter given more than once is an error naming it (?q=a&q=b), never a search for "['a', 'b']".
LIST_PARAMS = ("kommun", "type", "report_type", "topic")


def single_values(params: Mapping, list_params=LIST_PARAMS) -> dict:
    """``params`` with one value per parameter, except the list parameters (16.8)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, (list, tuple)) and key not in list_params:
            values = [v for v in value if v not in (None, "")]
            if len(set(map(str, values))) > 1:
                raise SearchError(key, f"parametern '{key}' får bara anges en gång")
            value = values[0] if values else None
        out[key] = value
    return out


def parse_request(params: Mapping, export: bool = False, known_types: list[str] | None = None,
                  known_topics: list[str] | None = None) -> SearchRequest:
    """Validate raw parameters (strings from a URL or the CLI) into a :class:`SearchRequest`."""
    params = single_values(params, LIST_PARAMS)
    q = str(params.get("q") or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise SearchError("q", f"frågan är {len(q)} tecken lång; högst {MAX_QUERY_CHARS} tecken")
    topics = _list(params.get("topic"))
    if not q and not topics:
        raise SearchError("q", "skriv något att söka efter")
    if q and not re.search(r"\w", q):
        raise SearchError("q", "frågan innehåller inga ord, bara skiljetecken")
    if q:
        from .search.syntax import parse

        if parse(q).empty:
            raise SearchError("q", "skriv minst ett ord som ska finnas med; -ord och NOT ord tar bara bort träffar")
    mode = str(params.get("mode") or "hybrid").strip().lower()
    if mode not in MODES:
        raise SearchError("mode", f"'{mode}' finns inte; välj {', '.join(MODES)}")
    year_from, year_to = parse_year(params.get("year"))
    yf = _int("year_from", params.get("year_from"), YEAR_MIN, YEAR_MAX)
    yt = _int("year_to", params.get("year_to"), YEAR_MIN, YEAR_MAX)
    year_from = yf if yf is not None else year_from
    year_to = yt if yt is not None else year_to
    if year_from is not None and year_to is not None and year_from > year_to:
        raise SearchError("year", f"startåret {year_from} är senare än slutåret {year_to}")
    types = [t.lower() for t in _list(params.get("type") or params.get("report_type"))]
    if known_types is not None:
        for t in types:
            if t not in known_types:
                raise SearchError("type", f"okänd rapporttyp '{t}'; finns: {', '.join(known_types)}")
    if known_topics is not None:
        for t in topics:
            if t not in known_topics:
                raise SearchError("topic", f"okänt ämne '{t}'")
    kind = params.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise SearchError("kind", f"'{kind}' finns inte; välj prose eller table")
    max_limit = MAX_EXPORT_LIMIT if export else MAX_LIMIT
    limit = _int("limit", params.get("limit"), 1, max_limit)
    offset = _int("offset", params.get("offset"), 0, MAX_OFFSET)
    collapse = str(params.get("collapse", "1")).lower() not in ("0", "false", "nej", "no")
    expand = str(params.get("expand", "1")).lower() not in ("0", "false", "nej", "no")
    return SearchRequest(
        q=q, mode=mode, kommunkoder=resolve_kommuner(_list(params.get("kommun"))),
        year_from=year_from, year_to=year_to, report_types=types, topics=topics, kind=kind,
        report_id=(str(params["report"]).strip() if params.get("report") else None),
        limit=limit or 10, offset=offset or 0, collapse_duplicates=collapse, expand=expand,
    )
