"""Parse numbers as Swedish reports print them; anything unclear becomes ``None``, never a guess.

Rules: spaces, no-break and thin spaces separate thousands ("1 001 935"); comma is the
decimal sign ("-11,6"); a point with one or two decimals is a decimal point as some
exports print it ("764.2", "10.28%"), a point before exactly three digits is ambiguous and
refused; "−" (unicode minus), "–" and "—" before a digit are minus; a lone "–" or "-" is an
empty cell; "(123)" is -123; a trailing "%" or unit (tkr, mnkr, kr, st) is noted; a trailing
footnote mark ("2,7*") is dropped; leading markers such as "◆" are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPACES = "\u00a0\u2009\u202f\u2007 "
UNIT_SUFFIXES = {"%": "%", "procent": "%", "tkr": "tkr", "mnkr": "mnkr", "mkr": "mnkr", "kr": "kr", "st": "antal", "dygn": "dygn", "dagar": "dagar"}
MARKERS = "◆◇●○■□▲▼►•✓✔✗👍👎"
NUMERIC_LOOKING = re.compile(r"^[\s(+\-−–—]*\d[\d\s\u00a0\u2009\u202f.,]*\)?\s*(%|tkr|mnkr|mkr|kr|st)?\s*\*{0,3}\s*$", re.I)


@dataclass(frozen=True)
class Parsed:
    value: float | None
    unit: str | None = None


def looks_numeric(raw: str) -> bool:
    return bool(NUMERIC_LOOKING.match(clean(raw)))


def clean(raw: str) -> str:
    s = (raw or "").strip().strip(MARKERS).strip()
    return s


def parse_number(raw: str) -> Parsed:
    """``Parsed(value, unit)``; value None when the cell is not (unambiguously) a number."""
    if raw is None:
        return Parsed(None)
    s = clean(str(raw))
    if not s or len(s) > 40:
        return Parsed(None)
    s = s.rstrip("*†‡").strip()
    unit = None
    m = re.search(r"\s*(%|procent|tkr|mnkr|mkr|kr|st|dygn|dagar)$", s, re.I)
    if m:
        unit = UNIT_SUFFIXES[m.group(1).lower()]
        s = s[: m.start()].strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s and s[0] in "-−–—":
        negative, s = not negative, s[1:].strip()
    elif s.startswith("+"):
        s = s[1:].strip()
    if not s or not s[0].isdigit():
        return Parsed(None)
    for ch in SPACES:
        s = s.replace(ch, " ")
    # thousands groups separated by single spaces: 1 001 935
    if " " in s:
        if not re.fullmatch(r"\d{1,3}( \d{3})+([.,]\d+)?", s):
            return Parsed(None)
        s = s.replace(" ", "")
    if "," in s:
        if s.count(",") > 1 or "." in s:
            return Parsed(None)
        s = s.replace(",", ".")
    elif "." in s:
        if s.count(".") > 1 or re.fullmatch(r"\d+\.\d{3}", s):
            return Parsed(None)  # "1.234" could be 1234 or 1,234: refuse to guess
    if not re.fullmatch(r"\d+(\.\d+)?", s):
        return Parsed(None)
    value = float(s)
    return Parsed(-value if negative else value, unit)


def format_swedish(value: float, decimals: int = 0, thousands: str = " ", minus: str = "-") -> str:
    """The inverse, as reports print numbers (used by the property tests)."""
    text = f"{abs(value):,.{decimals}f}".replace(",", "\u0000").replace(".", ",").replace("\u0000", thousands)
    return (minus if value < 0 and float(text.replace(thousands, "").replace(",", ".")) != 0 else "") + text
