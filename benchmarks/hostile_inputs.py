"""Build time and size on hostile inputs: each report built alone, without embeddings.

The inputs are those of issue 16.5: 200 000 tab-separated lines, 16 000 tab-only lines
(metadata detection), a 5 MB line without spaces, 100 kB without spaces (e-mail
patterns) and one table of 40 000 rows. Each build runs in its own process with a time
limit, so a regression shows as a number, not a hung benchmark. Prints seconds, database
size and passages per input; the tests build smaller versions with a generous bound.

Run: .venv/bin/python benchmarks/hostile_inputs.py [--timeout 300] [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def hostile_inputs() -> dict[str, str]:
    """Name → report text. Each is a plain .txt report a careless export could produce."""
    head = ("Månadsrapport juni 2022\n\nSocialnämnden\n\nNämnden redovisar ekonomi och verksamhet för perioden. "
            "Underskottet beror på placeringar i familjehem.\n\n")
    return {
        "200 000 tabbrader (1,4 MB)": head + "x\t1\ty\n" * 200_000,
        "16 000 rader med bara tabbar": head + "\t\t\t\n" * 16_000 + "Datum\n",
        "5 MB utan blanksteg": head + "a" * 5_000_000 + "\n",
        "100 kB utan blanksteg": head + "a" * 100_000 + "\n",
        "en tabell med 40 000 rader": head + "Tabell, antal\tA\tB\n"
                                      + "".join(f"Rad {i}\t{i}\t{i * 2}\n" for i in range(40_000)),
    }


def build_one(text: str, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / "rapport.txt").write_text(text, encoding="utf-8")
        db = Path(tmp) / "r.db"
        t = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-c", "from rapportsok.cli import main; main()", "build", "--corpus",
                                   str(corpus), "--db", str(db), "--no-embed", "--quiet"],
                                  capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"seconds": None, "ok": False, "error": f"över {timeout:.0f} s"}
        seconds = time.perf_counter() - t
        out = {"seconds": seconds, "ok": proc.returncode == 0, "error": proc.stderr.strip()[-300:] if proc.returncode else ""}
        if db.exists():
            import sqlite3

            out["mb"] = db.stat().st_size / 1e6
            out["chunks"] = sqlite3.connect(db).execute("select count(*) from chunks").fetchone()[0]
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--only", help="run only inputs whose name contains this")
    args = parser.parse_args()
    print("| indata | MB text | tid s | databas MB | textavsnitt |")
    print("|---|---:|---:|---:|---:|")
    for name, text in hostile_inputs().items():
        if args.only and args.only not in name:
            continue
        r = build_one(text, args.timeout)
        secs = f"{r['seconds']:.1f}" if r["seconds"] is not None else r["error"]
        print(f"| {name} | {len(text.encode()) / 1e6:.2f} | {secs} | {r.get('mb', float('nan')):.1f} | {r.get('chunks', '–')} |"
              + ("" if r["ok"] or r["seconds"] is None else f" fel: {r['error']}"), flush=True)


if __name__ == "__main__":
    main()
