"""Charts as server-side SVG (pygal): time series in tables, passages per kommun and year.

Charts are drawn on the server and inlined in the page, so they work offline and without
JavaScript (pygal's tooltip script, which it would load from a CDN, is switched off). Every
chart sits next to a table with the same numbers, for screen readers and for copying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup

from .numbers_sv import parse_number

PERIOD = re.compile(
    r"\b(?:(?:jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)[a-zåäö]*\s*[-–]\s*"
    r"(?:jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)[a-zåäö]*\s+)?(?:T[123]\s+)?(?:19|20)\d\d\b"
    r"|\bT[123]\b", re.I)
MAX_SERIES = 8


@dataclass
class Series:
    x: list[str]          # the periods, in the order printed
    lines: list[tuple[str, list[float | None]]]   # (row label, one value per period)
    columns: list[int]    # the table columns the periods come from (or row indexes when by_row)
    by_row: bool = False


def time_series(wide: dict) -> Series | None:
    """The table's time series, if its columns (or its row labels) are periods.

    Columns whose labels differ only in the period ("Utfall 2017" … "Utfall 2021",
    "jan-jun 2019" … "jan-jun 2023", "T1 2023" … "T3 2023") form the x axis; each data row
    with at least two numbers is a line. Columns such as "Avvikelse" or "Totalt 2020-2022"
    are left out. Tables whose row labels are years are read the other way round.
    """
    cols = wide["columns"]
    rows = [r for r in wide["rows"] if not (r and r[0].lstrip().startswith("*"))]
    found = _periods([c for c in cols[1:]])
    if found:
        idx = [i + 1 for i in found]
        lines = [(r[0], [_value(r[i]) if i < len(r) else None for i in idx]) for r in rows]
        x = [_period_label(cols[i]) for i in idx]
        by_row = False
    else:
        found = _periods([r[0] for r in rows])
        if not found:
            return None
        idx = found
        lines = [(cols[j], [_value(rows[i][j]) if j < len(rows[i]) else None for i in idx]) for j in range(1, len(cols))]
        x = [_period_label(rows[i][0]) for i in idx]
        by_row = True
    lines = [(name, vals) for name, vals in lines if sum(v is not None for v in vals) >= 2][:MAX_SERIES]
    if not lines:
        return None
    return Series(x=x, lines=lines, columns=idx, by_row=by_row)


def _periods(labels: list[str]) -> list[int] | None:
    """Indexes of the largest group of labels that are equal except for distinct periods."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for i, label in enumerate(labels):
        m = list(PERIOD.finditer(label or ""))
        if len(m) != 1 or re.search(r"(19|20)\d\d\s*[-–]\s*(19|20)\d\d", label):
            continue
        key = (label[: m[0].start()] + "#" + label[m[0].end():]).strip().lower()
        groups.setdefault(key, []).append((i, m[0].group(0).lower()))
    best = max(groups.values(), key=len, default=[])
    if len(best) < 2 or len({p for _, p in best}) != len(best):
        return None
    return [i for i, _ in best]


def _period_label(label: str) -> str:
    m = PERIOD.search(label)
    return re.sub(r"\s+", " ", m.group(0)) if m else label


def _value(raw: str) -> float | None:
    return parse_number(raw).value


def swedish_number(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{0 if float(value).is_integer() else 1}f}"
    return text.replace(",", "\u00a0").replace(".", ",").replace("-", "−")


def line_chart(title: str, x: list[str], lines: list[tuple[str, list[float | None]]], unit: str | None = None,
               chart_id: str = "diagram") -> Markup:
    """An inline SVG line chart (one dot per value); ``title`` names it for screen readers."""
    import pygal
    from pygal.style import Style

    style = Style(background="white", plot_background="white", foreground="#1b1f24", foreground_strong="#1b1f24",
                  foreground_subtle="#6b7680", font_family="system-ui, sans-serif", label_font_size=13,
                  major_label_font_size=13, legend_font_size=13, value_font_size=12, title_font_size=15,
                  colors=("#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0e7490", "#be123c", "#4d7c0f"))
    chart = pygal.Line(style=style, js=[], width=640, height=300 + 22 * len(lines) * (len(lines) > 1),
                       show_legend=len(lines) > 1, legend_at_bottom=True, legend_at_bottom_columns=1, truncate_legend=70,
                       margin_right=40, x_label_rotation=0 if len(x) <= 6 else 30,
                       dots_size=4, value_formatter=swedish_number, print_values=False, include_x_axis=False,
                       margin=12, spacing=12, explicit_size=False, disable_xml_declaration=True,
                       y_title=unit or None, show_y_guides=True)
    chart.x_labels = x
    for name, values in lines:
        chart.add(name, values)
    svg = chart.render(is_unicode=True)
    # no script (pygal's config for its tooltip script, which is off) and no comments with URLs
    svg = re.sub(r"<script.*?</script>", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{chart_id}-titel" ', 1)
    svg = re.sub(r"<title>.*?</title>", "", svg, count=1, flags=re.S)
    svg = svg.replace(">", f'><title id="{chart_id}-titel">{_escape(title)}</title>', 1)
    return Markup(svg)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table_chart(title: str, wide: dict, unit: str | None) -> dict | None:
    """The chart of a table page: ``{"svg", "series"}`` or None when the table is no time series."""
    series = time_series(wide)
    if series is None:
        return None
    return {"svg": line_chart(f"Diagram: {title}", series.x, series.lines, unit, "tabelldiagram"), "series": series}


def kommun_year_chart(title: str, kommuner: list[dict], years: list[int], cells: dict) -> Markup | None:
    """Passages per kommun (one line each) and year."""
    if len(years) < 2 or not kommuner:
        return None
    lines = [(k["name"] or k["code"], [float(cells.get((k["code"], y), 0)) for y in years]) for k in kommuner][:MAX_SERIES]
    return line_chart(title, [str(y) for y in years], lines, "textavsnitt", "amnesdiagram")


def heat_class(n: int, maximum: int) -> str:
    """A heatmap shade h0–h4 for a count (h0 = none)."""
    if not n or not maximum:
        return "h0"
    return f"h{min(4, 1 + int(3 * n / maximum + 0.5) if maximum > 1 else 4)}"
