"""Speed work on the query path and the reader (issue 16, load) gives exactly what the slower code gave.

Each faster piece is compared with the straightforward version it replaced, on the real
corpus's vocabulary, topics and evaluation queries plus generated misspellings."""

from __future__ import annotations

import random

import numpy as np

from conftest import EMBED_CACHE
from rapportsok import embeddings
from rapportsok.evaluation import load_queries


def test_query_model_runs_one_thread_and_gives_the_same_vectors(index):
    """The server's query model uses one ONNX thread (less CPU per query under load); its vectors
    are bit for bit those of the default two-thread session."""
    model = index.embedder()._model
    assert model.session.get_session_options().intra_op_num_threads == embeddings.QUERY_THREADS == 1
    two = embeddings.OnnxE5Embedder(EMBED_CACHE, quiet=True, threads=2)
    queries = [q["q"] for q in load_queries()][:20] + ["familjhem i kalmr", "ekonomiskt bistånd 2022"]
    for q in queries:
        assert np.array_equal(index.embedder().embed_query(q), two.embed_query(q)), q


def _correct_by_scan(vocab, word: str) -> str | None:
    """Spelling correction as it was: every indexed term compared with the word."""
    from rapidfuzz import fuzz, process

    if word in vocab.vocab or len(word) < 4 or word.isdigit():
        return None
    best = process.extractOne(word, vocab.terms, scorer=fuzz.ratio, score_cutoff=80)
    if best is None:
        return None
    ties = process.extract(word, vocab.terms, scorer=fuzz.ratio, score_cutoff=best[1] - 1e-6, limit=5)
    candidates = [t for t, _, _ in ties] or [best[0]]
    return max(candidates, key=lambda t: (vocab.vocab.get(t, 0), t))


def _misspellings(terms: list[str], rng: random.Random, n: int) -> list[str]:
    """Words one or two edits from an indexed term (as users misspell), and some far from any."""
    out = []
    letters = "abcdefghijklmnopqrstuvwxyzåäöé"
    for _ in range(n):
        w = rng.choice(terms)
        for _ in range(rng.choice([1, 1, 2])):
            i = rng.randrange(len(w) + 1)
            edit = rng.choice(["sub", "del", "ins", "swap"])
            if edit == "sub" and i < len(w):
                w = w[:i] + rng.choice(letters) + w[i + 1:]
            elif edit == "del" and i < len(w) and len(w) > 1:
                w = w[:i] + w[i + 1:]
            elif edit == "swap" and i + 1 < len(w):
                w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
            else:
                w = w[:i] + rng.choice(letters) + w[i:]
        out.append(w)
    out += ["".join(rng.choice(letters) for _ in range(rng.randint(4, 14))) for _ in range(n // 5)]
    return out


def test_spelling_correction_equals_the_scan_of_every_term(index):
    """Only terms that can reach the cut-off are compared; the answers are the full scan's,
    for thousands of misspelt corpus words, random strings and the evaluation queries' words."""
    vocab = index.keyword.vocab
    rng = random.Random(16)
    words = _misspellings([t for t in vocab.terms if len(t) >= 4], rng, 3000)
    words += [w.lower() for q in load_queries() for w in q["q"].split()]
    words += ["x" * 300 + "familjehem", "ααααβγ", "familjehemsplaceringarnas", "kostnadsökningarna" * 3]
    corrected = 0
    for w in words:
        expected = _correct_by_scan(vocab, w)
        assert vocab.correct(w) == expected, w
        corrected += expected is not None
    assert corrected > 1500   # most misspellings have a correction: the comparison is not vacuous


def _topic_candidates_by_loop(q: str):
    """What expand_query matched before it had lookup tables: a loop over every topic."""
    from rapportsok import swedish, topics

    raw_tokens = swedish.WORD_RE.findall(q)
    stems = [swedish.stem(t) for t in raw_tokens]
    en = [topics._en(t) for t in raw_tokens]
    candidates = []
    for t in topics.load_topics():
        for abbr in t.abbreviations:
            for i, tok in enumerate(raw_tokens):
                if tok == abbr or (tok.lower() == abbr.lower() and len(abbr) >= 3 and tok.lower() not in swedish.STOPWORDS):
                    candidates.append((1, i, i + 1, t.id, "abbreviation"))
        for phrase in t.phrases:
            n = len(phrase)
            for i in range(len(stems) - n + 1):
                if tuple(stems[i: i + n]) == phrase and n > 0:
                    candidates.append((n, i, i + n, t.id, "synonym"))
        for phrase in t.english_phrases:
            seq = [j for j, tok in enumerate(raw_tokens) if tok.lower() not in topics.ENGLISH_STOPWORDS]
            n = len(phrase)
            for k in range(len(seq) - n + 1):
                idx = seq[k: k + n]
                if tuple(en[j] for j in idx) == phrase and idx[-1] - idx[0] < n + 3:
                    candidates.append((n + 0.5, idx[0], idx[-1] + 1, t.id, "english"))
    used = [False] * len(raw_tokens)
    chosen = []
    for _n, a, b, tid, how in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if any(used[a:b]) or any(c[0] == tid for c in chosen):
            continue
        for k in range(a, b):
            used[k] = True
        chosen.append((tid, " ".join(raw_tokens[a:b]), how))
    return chosen, tuple(tok for tok, u in zip(raw_tokens, used) if not u)


def test_topic_expansion_equals_the_loop_over_every_topic(index):
    """expand_query finds topics through lookup tables by first word; the topics, matched words,
    kinds and the rest of the query are those of the loop over every topic, for the evaluation
    queries, every synonym, abbreviation and English name of every topic (alone, in other case,
    and mixed with other words and each other)."""
    from rapportsok import topics

    rng = random.Random(16)
    names = [n for t in topics.load_topics() for n in [*t.synonyms, *t.abbreviations, *t.abbreviations.values(), *t.english]]
    queries = [q["q"] for q in load_queries()] + names + [n.lower() for n in names] + [n.upper() for n in names]
    filler = ["i", "och", "kalmar", "kostnader", "the", "of", "2022", "barn", "för", "många"]
    for _ in range(1500):
        queries.append(" ".join(rng.choice(names + filler) for _ in range(rng.randint(1, 5))))
    several = 0
    for q in queries:
        expansions, rest = topics.expand_query(q)
        got = [(e.topic, e.matched, e.how) for e in expansions]
        assert (got, rest) == _topic_candidates_by_loop(q), q
        several += len(got) > 1
    assert several > 100


OLD_READER_LOOP = """{% for b in view.blocks %}
  {% if b.page_mark %}{% set pm = b.page_mark %}<p class="page-mark" id="sida-{{ pm.page }}"><span>s. {{ pm.page }}</span>{% if view.pdf_url %} <a href="{{ view.pdf_url|site_url }}#page={{ pm.page }}">PDF s. {{ pm.page }}</a>{% endif %}{% if pm.ocr %} <span class="ocr-note">Texten är maskinläst från en skannad sida (Tesseract, säkerhet {{ pm.ocr_confidence|round|int }} %) och kan innehålla läsfel.</span>{% endif %}</p>{% endif %}
  {% for a in b.anchors %}<span id="passage-{{ a }}" class="anchor"></span>{% endfor %}
  {% set hit = view.hit and view.hit.ordinal in b.passages %}
  {% if b.kind == "heading" %}<h{{ b.level }}{% if hit %} class="hit"{% endif %}>{{ b.html }}</h{{ b.level }}>
  {% elif b.kind == "table" %}<figure class="report-figure{% if hit %} hit{% endif %}"{% if b.table_id %} id="tabell-{{ b.table_id }}"{% endif %}>{{ b.html }}{% if b.table_id %}<figcaption><a href="{{ rs_base }}tabell/{{ b.table_id }}">Tabellen som data (CSV/JSON)</a></figcaption>{% endif %}</figure>
  {% elif b.kind == "meta" %}<p class="meta-block{% if hit %} hit{% endif %}">{{ b.html }}</p>
  {% else %}<p class="{% if hit %}hit{% endif %}">{{ b.html }}</p>{% endif %}
{% endfor %}"""


def _same_html(a: str, b: str) -> bool:
    import re

    norm = lambda s: re.sub(r">\s+<", "><", s.strip())  # noqa: E731 - whitespace between tags only
    return norm(a) == norm(b)


def _reader_matches_old_template(db, queries: list[str]) -> int:
    """Every report of ``db``, without a hit and opened at each passage (with a query): the
    reader's text made by reader_html equals what the template's loop over blocks wrote."""
    import jinja2

    from rapportsok import web
    from rapportsok.search import SearchIndex, urls

    index = SearchIndex(db, load_vectors=False)
    conn = index.conn()
    compared = 0
    for prefix in ("/", "/app/"):
        env = jinja2.Environment(autoescape=True)
        env.filters["site_url"] = lambda u, p=prefix: urls.prefixed(p, u)
        loop = env.from_string(OLD_READER_LOOP)
        for (rid,) in conn.execute("select id from reports").fetchall():
            ordinals = [None] + [r[0] for r in conn.execute("select ordinal from chunks where report_id = ?", [rid])]
            for i, passage in enumerate(ordinals):
                q = queries[i % len(queries)] if passage is not None else None
                view = web.report_page(conn, rid, passage, q, index, prefix=prefix)
                assert _same_html(str(view["article"]), loop.render(view=view, rs_base=prefix)), (rid, passage, q)
                compared += 1
    return compared


def test_reader_text_equals_the_old_template_loop(built_db):
    assert _reader_matches_old_template(built_db, ["familjehem", "SSPF", "kostnader placeringar", "barn och unga"]) > 400


def test_reader_text_of_pdfs_equals_the_old_template_loop(pdf_build):
    """PDF reports: page marks, links to the PDF's pages and the OCR note as the template wrote them."""
    assert _reader_matches_old_template(pdf_build[0], ["familjehem", "kostnader"]) > 100


def test_topic_vectors_are_embedded_at_start_and_kept(index, monkeypatch):
    """A query naming a topic by abbreviation ("SSPF") is joined by its topic's description
    (≈60 tokens, ≈25 ms to embed). The server embeds every description at start (``warm``) and keeps
    them apart from the bounded query cache: a cold "SSPF" then embeds only itself – with the same
    vector as before."""
    from rapportsok import topics
    from rapportsok.query import parse_request

    index.warm()
    text = next(f"{t.label}. {t.definition}" for t in topics.load_topics() if t.id == topics.expand_query("SSPF")[0][0].topic)
    before = index.semantic.query_vector(index, "SSPF")
    assert np.array_equal(index.topic_vector(text), index.embedder().embed_query(text))
    embedded: list[str] = []
    real = index.embedder().embed_query
    monkeypatch.setattr(index.embedder(), "embed_query", lambda q: embedded.append(q) or real(q))
    index._query_cache.clear()   # every question forgotten, as after 512 others
    index.search(parse_request({"q": "SSPF", "mode": "hybrid"}))
    assert embedded == ["SSPF"]
    assert np.array_equal(index.semantic.query_vector(index, "SSPF"), before)


def test_report_table_of_contents_is_made_once_per_report_and_build(index):
    """The reader's table of contents (a query per section) was made on every report page; it is
    now kept with the report's reader page of the build – the same contents for every report."""
    from rapportsok import reader_nav, web

    conn = index.conn()
    for (report_id,) in conn.execute("select id from reports").fetchall():
        first = web.report_page(conn, report_id, index=index)["toc"]
        assert first == reader_nav.table_of_contents(conn, report_id)
        assert web.report_page(conn, report_id, index=index)["toc"] is first   # not made again
        nav = reader_nav.navigation(conn, index, report_id, None, {}, toc=first)
        assert nav["toc"] is first
