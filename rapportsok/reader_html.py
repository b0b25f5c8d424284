"""The report reader's text as HTML: one piece per block, made once per report and build.

A long report has hundreds of blocks; looping over them in the page template (Datasette
renders Jinja in async mode) cost more CPU than everything else on the page (issue 16, load).
The blocks are the same for every visitor except those that cover the hit passage (marked
``hit``, with the query's words highlighted), so each block's HTML is made once and kept
with the report's built page; a request only makes the pieces of the blocks around its hit.
The markup is what ``rapport.html`` wrote per block before.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from .search import urls

OCR_NOTE = ("Texten är maskinläst från en skannad sida (Tesseract, säkerhet {} %) och kan innehålla läsfel.")


def block_html(b, hit: bool, pdf_url: str | None, prefix: str) -> str:
    """One block of the reader (``web.ReaderBlock``): its page mark, passage anchors and text."""
    out = []
    pm = b.page_mark
    if pm:
        page = escape(pm["page"])
        out.append(f'<p class="page-mark" id="sida-{page}"><span>s. {page}</span>')
        if pdf_url:
            out.append(f' <a href="{escape(urls.prefixed(prefix, pdf_url))}#page={page}">PDF s. {page}</a>')
        if pm.get("ocr"):
            out.append(f' <span class="ocr-note">{OCR_NOTE.format(int(round(pm["ocr_confidence"], 0)))}</span>')
        out.append("</p>")
    out += [f'<span id="passage-{escape(a)}" class="anchor"></span>' for a in b.anchors]
    if b.kind == "heading":
        cls = ' class="hit"' if hit else ""
        out.append(f"<h{b.level}{cls}>{b.html}</h{b.level}>")
    elif b.kind == "table":
        ident = f' id="tabell-{escape(b.table_id)}"' if b.table_id else ""
        caption = (f'<figcaption><a href="{escape(prefix)}tabell/{escape(b.table_id)}">Tabellen som data (CSV/JSON)</a>'
                   "</figcaption>") if b.table_id else ""
        out.append(f'<figure class="report-figure{" hit" if hit else ""}"{ident}>{b.html}{caption}</figure>')
    elif b.kind == "meta":
        out.append(f'<p class="meta-block{" hit" if hit else ""}">{b.html}</p>')
    else:
        out.append(f'<p class="{"hit" if hit else ""}">{b.html}</p>')
    return "".join(out)


def article(base: dict, blocks: list, hit_ordinal: int | None, pdf_url: str | None, prefix: str) -> Markup:
    """The reader's text: the report's blocks as made once (kept in ``base``, the built page),
    with the blocks covering the hit made again for this request (``blocks``: the page's blocks,
    the hit's prose blocks highlighted)."""
    kept = base.setdefault("block_html", {})
    plain = kept.get(prefix)
    if plain is None:
        plain = [block_html(b, False, pdf_url, prefix) for b in base["blocks"]]
        kept[prefix] = plain
    if hit_ordinal is None:
        return Markup("\n".join(plain))
    return Markup("\n".join(block_html(b, True, pdf_url, prefix) if hit_ordinal in b.passages else plain[i]
                            for i, b in enumerate(blocks)))
