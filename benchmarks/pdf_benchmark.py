"""PDF reading speed and memory: pages/s for text PDFs, seconds per OCR'd page, peak RSS.

    python benchmarks/pdf_benchmark.py [--pages 500]

Each measurement runs in its own process (peak RSS is per process). Inputs: the generated fixtures
in tests/fixtures/pdf (tests/fixtures/make_pdfs.py), and a long PDF made by repeating their pages
(default 500 pages) to show that time grows linearly and memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "pdf"
sys.path.insert(0, str(ROOT))


def child(kind: str, path: str) -> None:
    from rapportsok.ingest import ocr
    from rapportsok.ingest.pdf import read_pdf

    t0 = time.perf_counter()
    if kind == "text":
        pages = 0
        for p in path.split(","):
            result = read_pdf(Path(p))
            pages += len(result.pages) - sum(pg.ocr for pg in result.pages)
    else:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(path)
        ocr.ocr_page(doc[1])
        pages = 1
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pages": pages, "seconds": seconds, "rss_mb": rss}))


def run(kind: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def long_pdf(pages: int, folder: Path) -> Path:
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    sources = [pdfium.PdfDocument(p) for p in sorted(FIXTURES.glob("*.pdf")) if "kungsor" not in p.name]
    while len(out) < pages:
        for src in sources:
            take = min(len(src), pages - len(out))
            if take <= 0:
                break
            out.import_pages(src, list(range(take)))
    path = folder / f"lang-{pages}.pdf"
    out.save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=500)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    text_pdfs = [str(p) for p in sorted(FIXTURES.glob("*.pdf")) if "kungsor" not in p.name]
    rows = []
    r = run("text", ",".join(text_pdfs))
    rows.append(("textsidor, 4 genererade rapporter", r))
    with tempfile.TemporaryDirectory() as tmp:
        big = long_pdf(args.pages, Path(tmp))
        rows.append((f"textsidor, en PDF med {args.pages} sidor", run("text", str(big))))
    rows.append(("OCR, en skannad sida (300 dpi, swe)", run("ocr", str(FIXTURES / "kungsor-manadsrapport-2019-02.pdf"))))
    print("| körning | sidor | tid s | sidor/s | s per sida | max RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['pages']} | {r['seconds']:.1f} | {r['pages'] / r['seconds']:.2f} | "
              f"{r['seconds'] / r['pages']:.2f} | {r['rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
