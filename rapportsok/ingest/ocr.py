"""OCR of scanned pages with Tesseract's Swedish model (Debian ``tesseract-ocr`` + ``tesseract-ocr-swe``).

Tesseract runs as a subprocess on a page rendered by pypdfium2; its TSV output gives words with
positions and confidences, which become the same line records the text-layer reader makes, so
furniture detection and paragraph joining work the same on scanned pages.
"""

from __future__ import annotations

import csv
import functools
import io
import shutil
import subprocess
from dataclasses import dataclass

DPI = 300
LANG = "swe"


@dataclass
class OcrWord:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    conf: float
    line: tuple


@functools.lru_cache(maxsize=1)
def available() -> str | None:
    """None when Tesseract with Swedish is usable, else the reason it is not."""
    exe = shutil.which("tesseract")
    if not exe:
        return "tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-swe)"
    try:
        langs = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"tesseract does not run: {exc}"
    if LANG not in langs:
        return "Tesseract's Swedish model is missing (apt-get install tesseract-ocr-swe)"
    return None


def ocr_page(pdfium_page, timeout: float = 120) -> list[OcrWord]:
    """Words on a rendered page with positions in PDF points (origin top left) and confidence 0–100."""
    scale = DPI / 72
    image = pdfium_page.render(scale=scale, grayscale=True).to_pil()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    out = subprocess.run(["tesseract", "stdin", "stdout", "-l", LANG, "--psm", "3", "tsv"], input=buf.getvalue(),
                         capture_output=True, timeout=timeout, check=True).stdout.decode("utf-8", "replace")
    words = []
    for row in csv.DictReader(io.StringIO(out), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        left, top, width, height = (float(row[k]) / scale for k in ("left", "top", "width", "height"))
        words.append(OcrWord(text, left, left + width, top, top + height, float(row["conf"]),
                             (row["block_num"], row["par_num"], row["line_num"])))
    return words
