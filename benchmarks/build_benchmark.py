"""Build speed and memory: the real corpus and a synthetic 100× corpus.

Prints build time per MB of text and peak memory (max RSS) for:
  1. the corpus as it is, with embeddings taken from the cache (what a rebuild costs),
  2. the corpus without embeddings (parsing, chunking, tables, FTS),
  3. a synthetic corpus of every report copied 100 times, without embeddings
     (embedding throughput is measured by search_benchmark.py).
Each run is a separate process so the peak memory is its own.

Run: .venv/bin/python benchmarks/build_benchmark.py [--copies 100]
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


def child(corpus: str, db: str, embed: bool, cache: str) -> None:
    import os
    sys.path.insert(0, str(ROOT))
    from rapportsok.build import BuildOptions, build

    t = time.perf_counter()
    result = build(BuildOptions(corpus=Path(corpus), db_path=Path(db), embed=embed, cache_dir=Path(cache), quiet=True,
                                max_bytes=200 * 1024 * 1024))
    seconds = time.perf_counter() - t
    mb = sum(p.stat().st_size for p in Path(corpus).glob("*.txt")) / 1e6
    print(json.dumps({"seconds": seconds, "mb": mb, "chunks": result.chunks, "tables": result.tables.get("tables"),
                      "embedded": result.embedding.get("embedded"), "cpu_s": sum(os.times()[:2]),
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "db_mb": Path(db).stat().st_size / 1e6}))


def run(corpus: Path, db: Path, embed: bool, cache: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(corpus), str(db), "1" if embed else "0", str(cache)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def synthetic_corpus(dst: Path, copies: int) -> None:
    dst.mkdir(parents=True)
    for i in range(copies):
        for src in sorted((ROOT / "corpus").glob("*.txt")):
            shutil.copy(src, dst / f"{src.stem}_kopia{i:03d}.txt")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=100, help="0: skip the synthetic corpus")
    args = parser.parse_args()
    cache = ROOT / "build" / "cache"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        fresh = tmp / "fresh-cache"   # an empty embedding cache (the converted model is reused)
        fresh.mkdir()
        if (cache / "e5-onnx").exists():
            (fresh / "e5-onnx").symlink_to(cache / "e5-onnx")
        full = run(ROOT / "corpus", tmp / "full.db", True, fresh)
        rows.append(("korpus, full build: allt bäddas in (tom cache)", full))
        again = run(ROOT / "corpus", tmp / "again.db", True, fresh)
        rows.append(("korpus, oförändrad ombyggnad (allt från cache)", again))
        r = run(ROOT / "corpus", tmp / "a.db", True, cache)
        rows.append(("korpus (5 rapporter), inbäddningar från cache", r))
        r = run(ROOT / "corpus", tmp / "b.db", False, cache)
        rows.append(("korpus utan inbäddningar", r))
        if args.copies:
            synthetic_corpus(tmp / "syn", args.copies)
            r = run(tmp / "syn", tmp / "c.db", False, cache)
            rows.append((f"syntetisk {args.copies}× ({args.copies * 5} rapporter) utan inbäddningar", r))
    print("| körning | MB text | textavsnitt | inbäddade | tid s | CPU s | s per MB | max RSS MB | databas MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['mb']:.2f} | {r['chunks']} | {r.get('embedded') if r.get('embedded') is not None else '–'} | "
              f"{r['seconds']:.1f} | {r['cpu_s']:.1f} | {r['seconds'] / r['mb']:.2f} | {r['max_rss_mb']:.0f} | {r['db_mb']:.1f} |")
    print(f"\noförändrad ombyggnad / full build: {again['seconds'] / full['seconds']:.1%} av tiden, "
          f"{again['cpu_s'] / full['cpu_s']:.1%} av CPU-tiden")


if __name__ == "__main__":
    main()
