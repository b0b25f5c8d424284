"""Build speed and memory: the real corpus, a synthetic 100× corpus and the PDF fixtures.

Prints build time per MB of text, reports per hour and peak memory (max RSS) for:
  default: 1. the corpus built with embeddings from an empty cache (full build), 2. the same again
     into the same database file, as `rapportsok build` replaces build/rapportsok.db (unchanged
     rebuild: every vector from the cache, the stored BM25 of common phrases copied from the
     database it replaces) – and the ratio of the two, 3. the corpus with
     embeddings from build/cache, 4. without embeddings, 5. every report copied 100 times, without
     embeddings, once per --jobs value;
  --parse-only: the 100× corpus and the PDF fixtures (one page OCR'd) without embeddings, once per
     --jobs value (parsing throughput, reports/hour);
  --synthetic-embed: the 100× corpus with "(kopia N)" appended to headings and prose lines so each
     copy's passages are embedded, not taken from the cache: a full build with embeddings at that size,
     then the same again into the same file (an unchanged rebuild at that size: every vector from
     the cache). Each build's row names the time of its BM25 step (search/leaves.py).
Each run is a separate process so the peak memory is its own. "CPU s" is user + sys time of the
build process and of its finished child processes (the parsing pool, joined before the embedding
step); on a machine shared with other jobs, "CPU s / 2" approximates the wall time of a quiet
2-core machine.

Run: .venv/bin/python benchmarks/build_benchmark.py [--copies 100] [--jobs 1 2] [--parse-only | --synthetic-embed]
(RAPPORTSOK_PASSAGE_RUNTIME=onnx|torch-bf16 chooses the passage runtime; default: torch-bf16 on CPUs with AMX)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "cache"


def child(corpus: str, db: str, embed: bool, cache: str, jobs: int) -> None:
    import os
    sys.path.insert(0, str(ROOT))
    from rapportsok.build import BuildOptions, build

    extra = {"jobs": jobs} if jobs else {}   # 0: the build's default (and code from before --jobs)
    t = time.perf_counter()
    result = build(BuildOptions(corpus=Path(corpus), db_path=Path(db), embed=embed, cache_dir=Path(cache), quiet=True,
                                max_bytes=200 * 1024 * 1024, **extra))
    seconds = time.perf_counter() - t
    files = [p for p in Path(corpus).iterdir() if p.suffix in (".txt", ".md", ".pdf")]
    mb = sum(p.stat().st_size for p in files if p.suffix != ".pdf") / 1e6
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    import sqlite3
    conn = sqlite3.connect(db)
    row = conn.execute("select value from build_info where key = 'keyword_leaves'").fetchone()
    conn.close()
    leaves = json.loads(row[0]) if row else {}
    print(json.dumps({"seconds": seconds, "leaves": leaves.get("leaves"), "leaves_s": leaves.get("seconds"),
                      "leaves_copied": bool(leaves.get("copied")), "mb": mb, "files": len(files), "reports": result.reports,
                      "chunks": result.chunks, "tables": result.tables.get("tables"),
                      "embedded": result.embedding.get("embedded"),
                      "passage_runtime": (result.embedding.get("passage_runtime") or "").split(" ")[0],
                      "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
                      "max_rss_mb": own.ru_maxrss / 1024, "worker_rss_mb": kids.ru_maxrss / 1024,
                      "load": os.getloadavg()[0], "db_mb": Path(db).stat().st_size / 1e6}))


def run(corpus: Path, db: Path, embed: bool, cache: Path, jobs: int = 0) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(corpus), str(db), "1" if embed else "0", str(cache),
                          str(jobs)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def synthetic_corpus(dst: Path, copies: int, unique: bool = False) -> None:
    """Every corpus report copied ``copies`` times. ``unique``: each copy's headings and prose lines
    end with "(kopia N)", so (nearly) every passage of every copy has its own embedding text and
    is embedded, not taken from the cache – what embedding a corpus of that size costs."""
    dst.mkdir(parents=True)
    for i in range(copies):
        for src in sorted((ROOT / "corpus").glob("*.txt")):
            target = dst / f"{src.stem}_kopia{i:03d}.txt"
            if not unique:
                shutil.copy(src, target)
                continue
            tag = f" (kopia {i + 1})"
            lines = src.read_text(encoding="utf-8").splitlines()
            target.write_text("\n".join(line.rstrip() + tag + line[len(line.rstrip()):] if _taggable(line) else line
                                        for line in lines) + "\n",
                              encoding="utf-8")


def _taggable(line: str) -> bool:
    s = line.strip()
    if not s or "|" in s or "\t" in line:
        return False
    return s.startswith("#") or len(s.split()) >= 3


def pdf_corpus(dst: Path, copies: int) -> Path:
    """The five PDF fixtures of the tests (tests/fixtures/pdf, one page scanned: OCR), each copied ``copies`` times."""
    dst.mkdir(parents=True)
    for i in range(copies):
        for src in sorted((ROOT / "tests" / "fixtures" / "pdf").glob("*.pdf")):
            shutil.copy(src, dst / f"{src.stem}_kopia{i:02d}.pdf")
    return dst


def fresh_cache(tmp: Path, name: str) -> Path:
    """An empty embedding cache (the converted model is reused, not converted again)."""
    fresh = tmp / name
    fresh.mkdir()
    if (CACHE / "e5-onnx").exists():
        (fresh / "e5-onnx").symlink_to(CACHE / "e5-onnx")
    return fresh


def print_table(rows: list[tuple[str, dict]]) -> None:
    print("| körning | MB text | rapporter | textavsnitt | inbäddade | tid s | CPU s | CPU s / 2 (≈ tyst maskin, 2 kärnor) | "
          "CPU s per 1 000 avsnitt | s per MB | rapporter/timme | "
          "max RSS MB (byggprocess / största arbetsprocess) | load | databas MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        if r.get("leaves_s") is not None:
            name += (f" (BM25 för {r['leaves']:,} vanliga fraser: {r['leaves_s']:.1f} s"
                     + (", kopierade från databasen som ersattes)" if r.get("leaves_copied") else ")"))
        embedded = r.get("embedded") if r.get("embedded") is not None else "–"
        per_mb = f"{r['seconds'] / r['mb']:.2f}" if r["mb"] else "–"
        rss = f"{r['max_rss_mb']:.0f}" + (f" / {r['worker_rss_mb']:.0f}" if r.get("worker_rss_mb") else "")
        print(f"| {name} | {r['mb']:.2f} | {r.get('reports', '–')} | {r['chunks']} | {embedded} | {r['seconds']:.1f} | "
              f"{r['cpu_s']:.1f} | {r['cpu_s'] / 2:.1f} | {r['cpu_s'] / max(r['chunks'], 1) * 1000:.1f} | {per_mb} | "
              f"{r.get('reports', 0) / r['seconds'] * 3600:,.0f} | {rss} | "
              f"{r.get('load', 0):.1f} | {r['db_mb']:.1f} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5], int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=100, help="0: skip the synthetic corpus")
    parser.add_argument("--jobs", type=int, nargs="*", default=[0],
                        help="parse processes for the synthetic and PDF builds; several values: one run each (0: default)")
    parser.add_argument("--synthetic-embed", action="store_true",
                        help="only: the synthetic corpus with a unique text per copy, built with embeddings from an "
                             "empty cache (the full-build cost at that size; long)")
    parser.add_argument("--parse-only", action="store_true",
                        help="only: the synthetic corpus and the PDF fixtures without embeddings, once per --jobs value")
    parser.add_argument("--pdf-copies", type=int, default=4, help="--parse-only: copies of each PDF fixture")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        if args.synthetic_embed:
            synthetic_corpus(tmp / "syn", args.copies, unique=True)
            for jobs in args.jobs:
                r = run(tmp / "syn", tmp / f"e{jobs}.db", True, fresh_cache(tmp, f"cache{jobs}"), jobs)
                rows.append((f"syntetisk {args.copies}× (unik text per kopia), full build med inbäddningar, "
                             f"jobs {jobs or 'standard'}, textavsnitt: {r['passage_runtime']}", r))
                # into the same path, as `rapportsok build` replaces build/rapportsok.db
                again = run(tmp / "syn", tmp / f"e{jobs}.db", True, tmp / f"cache{jobs}", jobs)
                rows.append((f"samma, oförändrad ombyggnad (allt från cache), jobs {jobs or 'standard'}", again))
            print_table(rows)
            full, again = rows[-2][1], rows[-1][1]
            print(f"\noförändrad ombyggnad / full build: {again['seconds'] / full['seconds']:.1%} av tiden, "
                  f"{again['cpu_s'] / full['cpu_s']:.1%} av CPU-tiden ({again['seconds']:.1f} s mot {full['seconds']:.1f} s)")
            return
        if args.parse_only:
            synthetic_corpus(tmp / "syn", args.copies)
            for jobs in args.jobs:
                r = run(tmp / "syn", tmp / f"p{jobs}.db", False, CACHE, jobs)
                rows.append((f"syntetisk {args.copies}× utan inbäddningar, jobs {jobs or 'standard'}", r))
            pdfs = pdf_corpus(tmp / "pdf", args.pdf_copies)
            for jobs in args.jobs:
                r = run(pdfs, tmp / f"pdf{jobs}.db", False, CACHE, jobs)
                rows.append((f"PDF-fixturer ({r['files']} filer) utan inbäddningar, jobs {jobs or 'standard'}", r))
            print_table(rows)
            return
        full = run(ROOT / "corpus", tmp / "full.db", True, fresh_cache(tmp, "fresh"))
        rows.append((f"korpus, full build: allt bäddas in (tom cache; textavsnitt: {full['passage_runtime']})", full))
        again = run(ROOT / "corpus", tmp / "full.db", True, tmp / "fresh")   # replaces it, as a rebuild does
        rows.append(("korpus, oförändrad ombyggnad (allt från cache)", again))
        r = run(ROOT / "corpus", tmp / "a.db", True, CACHE)
        rows.append(("korpus (5 rapporter), inbäddningar från cache", r))
        r = run(ROOT / "corpus", tmp / "b.db", False, CACHE)
        rows.append(("korpus utan inbäddningar", r))
        if args.copies:
            synthetic_corpus(tmp / "syn", args.copies)
            for jobs in args.jobs:
                r = run(tmp / "syn", tmp / f"c{jobs}.db", False, CACHE, jobs)
                rows.append((f"syntetisk {args.copies}× ({args.copies * 5} rapporter) utan inbäddningar, "
                             f"jobs {jobs or 'standard'}", r))
    print_table(rows)
    print(f"\noförändrad ombyggnad / full build: {again['seconds'] / full['seconds']:.1%} av tiden, "
          f"{again['cpu_s'] / full['cpu_s']:.1%} av CPU-tiden ({again['seconds']:.1f} s mot {full['seconds']:.1f} s)")


if __name__ == "__main__":
    main()
