"""Detect a report's metadata from its text: municipality, type, period, date, diarienummer.

Each detected field comes with a confidence — ``säker`` (the document states it in a
letterhead, e-mail domain or title), ``osäker`` (inferred from mentions in running text)
or ``okänd`` (nothing found; the value is then empty rather than guessed) — and the
evidence, so the site can show why a value was chosen. Manifest values override these.

A municipality that is not printed (no letterhead, e-mail domain or "X kommun") may be inferred
from organisations and places in the text that belong to one kommun (``data/aktorer.csv``:
Viadidakt, KFAB, Skogsborgsskolan → Katrineholm); such a value is ``osäker`` and marked
``inferred``, and the site shows it as "härledd från ortnamn och aktörer i texten".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from . import municipalities
from .structure import strip_markup

SURE, UNSURE, UNKNOWN = "säker", "osäker", "okänd"
MONTHS = {
    "januari": 1, "februari": 2, "mars": 3, "april": 4, "maj": 5, "juni": 6, "juli": 7,
    "augusti": 8, "september": 9, "oktober": 10, "november": 11, "december": 12,
}
TYPE_PATTERNS = [
    ("kallelse", r"kallelse|föredragningslista"),
    ("protokoll", r"sammanträdesprotokoll|protokollsutdrag"),
    ("tertialbokslut", r"tertialbokslut"),
    ("tertialrapport", r"tertialrapport|tertialuppföljning"),
    ("delårsrapport", r"delårsrapport"),
    ("delårsbokslut", r"delårsbokslut"),
    ("årsbokslut", r"årsbokslut|årsboks slut"),
    ("årsredovisning", r"årsredovisning"),
    ("verksamhetsberättelse", r"verksamhetsberättelse"),
    ("månadsrapport", r"månadsrapport|månadsuppföljning"),
]
REPORT_WORD = r"(månadsrapport|tertialrapport|tertialbokslut|delårsrapport|delårsbokslut|årsbokslut|årsboks slut|årsredovisning)"
# Municipality names that are also common Swedish words or first names: not counted as mentions.
AMBIGUOUS_NAMES = {"mark", "berg", "vara", "kil", "ale", "eda", "nora", "sala", "boden", "lund", "salem",
                   "mora", "flen", "åre", "habo", "heby", "orsa", "hjo", "ydre", "kinda", "tanum", "sunne", "malå"}
TITLE_LINES = 40
# Bounded quantifiers anchored at a word start: linear time on long runs of letters.
ADDRESS_RE = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@([\w-]{1,63})\.se\b|\bwww\.([\w-]{1,63})\.se\b", re.I)
LETTERHEAD_RE = re.compile(r"\b([A-ZÅÄÖ][\wåäö-]{1,40}?)s? (kommun|stad)\b|\bRegion (Gotland)\b")


INFERRED_EVIDENCE = "härledd från ortnamn och aktörer i texten"


@dataclass
class Detected:
    value: object
    confidence: str
    evidence: str
    inferred: bool = False   # not printed in the text: inferred from mentions, places or actors


def _unknown(why: str) -> Detected:
    return Detected(None, UNKNOWN, why)


def detect_municipality(text: str) -> Detected:
    strong: Counter[str] = Counter()
    evidence: dict[str, str] = {}
    for m in ADDRESS_RE.finditer(text):
        name = (m.group(1) or m.group(2)).lower()
        mun = municipalities.lookup(name)
        if mun:
            strong[mun.kommunkod] += 3
            evidence.setdefault(mun.kommunkod, f"adress '{m.group(0)}'")
    for m in LETTERHEAD_RE.finditer(text):
        name = m.group(1) or m.group(3)
        mun = municipalities.lookup(name) or municipalities.lookup(name.rstrip("s"))
        if mun:
            strong[mun.kommunkod] += 2
            evidence.setdefault(mun.kommunkod, f"'{m.group(0)}'")
    for line in text.split("\n")[:80]:
        core = strip_markup(line)
        if core.isupper() and municipalities.lookup(core.lower()):
            mun = municipalities.lookup(core.lower())
            strong[mun.kommunkod] += 3
            evidence.setdefault(mun.kommunkod, f"brevhuvud '{core}'")
    if strong:
        (code, score), *rest = strong.most_common()
        if not rest or score >= 2 * rest[0][1]:
            return Detected(code, SURE, evidence[code])
        return Detected(code, UNSURE, f"{evidence[code]}; också {municipalities.by_code()[rest[0][0]].kommun}")
    mentions: Counter[str] = Counter()
    names = {m.kommun: m.kommunkod for m in municipalities.all_municipalities() if m.kommun.lower() not in AMBIGUOUS_NAMES}
    for word in re.findall(r"(?<![.!?]\s)\b[A-ZÅÄÖ][a-zåäö]+(?:[ -][A-ZÅÄÖ][a-zåäö]+)?s?\b", text):
        for cand in (word, word[:-1] if word.endswith("s") else None):
            if cand in names:
                mentions[names[cand]] += 1
                break
    if mentions:
        (code, n), *rest = mentions.most_common()
        if n >= 3 and (not rest or n >= 3 * rest[0][1]):
            return Detected(code, UNSURE, f"ortnamnet nämns {n} gånger i texten", inferred=True)
    by_actor = detect_municipality_from_actors(text)
    if by_actor.value:
        return by_actor
    return _unknown("inget kommunnamn, ingen e-postdomän och inget brevhuvud i texten"
                    + (f"; {by_actor.evidence}" if by_actor.evidence else ""))


def detect_municipality_from_actors(text: str) -> Detected:
    """A municipality inferred from organisations and places in the text (``data/aktorer.csv``).

    Needs at least two different actors pointing to the same municipality and a score at
    least twice that of any other; the result is ``osäker`` and marked as inferred, with
    every actor found (and the line it is on) as evidence.
    """
    score: Counter[str] = Counter()
    found: dict[str, list[str]] = {}
    for actor in municipalities.actors():
        m = re.search(rf"(?<![\w-]){re.escape(actor.name)}(?![\w-])", text)
        if not m:
            continue
        line = text.count("\n", 0, m.start()) + 1
        score[actor.kommunkod] += actor.weight
        found.setdefault(actor.kommunkod, []).append(f"{actor.name} (rad {line}: {actor.description})")
        for member in actor.members:
            score[member] += actor.weight / 2
    if not score:
        return _unknown("")
    (code, best), *rest = score.most_common()
    names = municipalities.by_code()
    listing = "; ".join(f"{names[c].kommun}: {', '.join(a)}" for c, a in found.items())
    if len(found.get(code, [])) >= 2 and best >= 3 and (not rest or best >= 2 * rest[0][1]):
        return Detected(code, UNSURE, f"{INFERRED_EVIDENCE}: {'; '.join(found[code])}", inferred=True)
    return _unknown(f"aktörer i texten räcker inte för att bestämma kommunen ({listing})")


def _title_text(text: str) -> str:
    lines = [strip_markup(l) for l in text.split("\n") if l.strip()][:TITLE_LINES]
    return "\n".join(lines)


def detect_report_type(text: str) -> Detected:
    head = _title_text(text).lower()
    for rtype, pattern in TYPE_PATTERNS:
        m = re.search(pattern, head)
        if m:
            return Detected(rtype, SURE, f"rubrik: '{m.group(0)}'")
    counts = Counter()
    for rtype, pattern in TYPE_PATTERNS:
        counts[rtype] = len(re.findall(pattern, text.lower()))
    rtype, n = counts.most_common(1)[0]
    if n:
        return Detected(rtype, UNSURE, f"'{rtype}' nämns {n} gånger i texten, inte i rubriken")
    return _unknown("ingen rapporttyp i rubriker eller text")


def _period_from(fragment: str, rtype: str | None) -> str | None:
    frag = fragment.lower()
    year = re.search(r"\b(19[89]\d|20\d\d)\b", frag)
    if not year:
        return None
    y = int(year.group(1))
    tert = re.search(r"tertial(?:bokslut|rapport)?\s*([123])\b|\bt([123])\b", frag)
    month = next((n for name, n in MONTHS.items() if re.search(rf"\b{name}\b", frag)), None)
    if tert:
        return f"T{tert.group(1) or tert.group(2)} {y}"
    if rtype in ("tertialrapport", "tertialbokslut") or "tertial" in frag:
        if month:
            return f"T{1 if month <= 4 else 2 if month <= 8 else 3} {y}"
    if month and ("månad" in frag or rtype == "månadsrapport"):
        return f"{y}-{month:02d}"
    if re.search(r"års|helår", frag):
        return str(y)
    if month:
        return f"{y}-{month:02d}"
    return str(y)


def detect_period(text: str, rtype: str | None) -> Detected:
    head = _title_text(text)
    for m in re.finditer(REPORT_WORD, head, re.I):
        fragment = head[m.start(): m.end() + 60]
        fragment = fragment.split("\n\n")[0]
        word = m.group(0).lower()
        local_type = next((t for t, p in TYPE_PATTERNS if re.fullmatch(p, word)), rtype)
        period = _period_from(fragment, local_type)
        if period:
            return Detected(period, SURE, f"rubrik: '{' '.join(fragment.split())[:80]}'")
    m = re.search(r"rapportperiod:?\s*(\d{4})-(\d{2})-\d{2}", text, re.I)
    if m:
        return Detected(f"{m.group(1)}-{m.group(2)}", UNSURE, f"'{m.group(0)}'")
    return _unknown("ingen period i rubrikerna")


def detect_labelled(text: str, labels: str, pattern: str) -> Detected:
    # Whitespace is matched within a line ([ \t]) and blank lines are counted, never with \s*
    # across lines: on thousands of blank or tab-only lines \s* backtracks quadratically.
    found = list(re.finditer(rf"^[ \t]*(?:{labels})[ \t]*:?[ \t]*\n(?:[ \t]*\n){{0,3}}[ \t]*({pattern})", text, re.I | re.M))
    if found:
        m = found[0]
        values = {f.group(1).strip() for f in found}
        note = f"'{' '.join(m.group(0).split())}'"
        if len(values) > 1:
            return Detected(m.group(1).strip(), UNSURE, f"{note}; texten har {len(values)} olika värden (flera ärenden)")
        return Detected(m.group(1).strip(), SURE, note)
    return _unknown("ingen sådan uppgift i texten")


def detect_committee(text: str) -> Detected:
    counts = Counter(re.findall(r"\b(Socialnämnden|Socialförvaltningen|Vård- och omsorgsnämnden|Individ- och familjeomsorgsnämnden|Välfärdsnämnden|Omsorgsnämnden)\b", text))
    if not counts:
        return _unknown("ingen nämnd nämns")
    name, n = counts.most_common(1)[0]
    if name == "Socialförvaltningen" and "Socialnämnden" not in counts:
        return Detected("Socialnämnden", UNSURE, "förvaltningen nämns, nämnden antagen")
    return Detected(name if name.endswith("nämnden") else "Socialnämnden", SURE if n >= 2 else UNSURE, f"'{name}' nämns {n} gånger")


def detect_title(text: str) -> Detected:
    for line in text.split("\n")[:TITLE_LINES * 3]:
        core = re.sub(r"^[-–•]?\s*\d{0,2}\s+", "", strip_markup(line)).strip()
        if re.search(REPORT_WORD, core, re.I) and len(core) <= 120:
            return Detected(core, UNSURE, "första raden som namnger en rapport")
    return _unknown("ingen rubrik med rapporttyp")


def detect_all(text: str) -> dict[str, Detected]:
    out: dict[str, Detected] = {}
    mun = detect_municipality(text)
    out["kommunkod"] = mun
    if mun.value:
        m = municipalities.by_code()[mun.value]
        out["municipality"] = Detected(m.kommun, mun.confidence, mun.evidence, mun.inferred)
        out["county"] = Detected(m.lan, mun.confidence, "från kommunkoden", mun.inferred)
    else:
        out["municipality"] = out["county"] = _unknown(mun.evidence)
    out["report_type"] = detect_report_type(text)
    out["period"] = detect_period(text, out["report_type"].value)
    period = out["period"].value
    out["year"] = Detected(int(period[-4:]) if period and period[-4:].isdigit() else int(period[:4]) if period else None,
                           out["period"].confidence, "från perioden") if period else _unknown("ingen period")
    out["document_date"] = detect_labelled(text, "Datum", r"\d{4}-\d{2}-\d{2}")
    out["diarienummer"] = detect_labelled(text, "Ärendebeteckning|Diarienummer|Dnr", r"[A-ZÅÄÖ]{1,6}\s?\d{4}/[\w.:-]+")
    out["committee"] = detect_committee(text)
    out["title"] = detect_title(text)
    return out
