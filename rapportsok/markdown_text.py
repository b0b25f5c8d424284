"""Markdown in our own texts (topic definitions, the help on /om) rendered with the
``markdown`` package – never hand-rolled. Only the project's own texts go through here;
report text is shown as printed (escaped), not as Markdown.
"""

from __future__ import annotations

import html as html_mod
from functools import lru_cache
from pathlib import Path

import markdown
from markupsafe import Markup


@lru_cache(maxsize=1024)
def to_html(text: str | None, inline: bool = False) -> Markup:
    """``text`` as HTML; ``inline`` drops the surrounding paragraph (for a sentence in a table cell)."""
    # raw HTML in the text is escaped first: Markdown syntax only
    html = markdown.markdown(html_mod.escape(text or "", quote=False), output_format="html")
    if inline and html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


CONTENT = Path(__file__).resolve().parent.parent / "site" / "content"


def page(name: str) -> Markup:
    """A Markdown file from ``site/content`` (texts of the about page) as HTML."""
    path = (CONTENT / name).resolve()
    if path.parent != CONTENT or path.suffix != ".md":
        raise ValueError(f"{name}: not a Markdown file in site/content")
    return to_html(path.read_text(encoding="utf-8"))
