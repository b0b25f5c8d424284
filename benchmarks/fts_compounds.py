"""How the Swedish keyword index finds compound words: stems only vs stems + compound parts
vs substring (trigram) matching, on the real corpus.

For each query word it counts the passages each method finds, and for substring matching
how many of those are false hits (the word only occurs inside an unrelated word, e.g.
"omsorg" in "ungdomsorganisationer"). Substring hits are checked against the compound
splitter *and* a stem match, so "false" means: no word of the passage is the query
word, an inflection of it, or a compound with it as a part.

Run: .venv/bin/python benchmarks/fts_compounds.py
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapportsok import paths, swedish  # noqa: E402
from rapportsok.build import display_text  # noqa: E402

WORDS = ["familjehem", "omsorg", "placering", "boende", "skydd", "våld", "missbruk", "stöd", "vård", "hem", "tjänst", "bistånd"]


def main() -> None:
    conn = sqlite3.connect(paths.database_path())
    texts = [display_text(r[0]) for r in conn.execute("select text from chunks")]
    tokens = [swedish.tokens(t) for t in texts]
    stems_only = [{swedish.stem(w) for w in toks} for toks in tokens]
    with_parts = [{t for w in toks for t in swedish.index_terms(w)} for toks in tokens]
    print(f"{len(texts)} passager\n")
    print("| ord | bara stammar | stammar + sammansättningsled | delsträng (trigram) | varav falska | missade av stammar + led |")
    print("|---|---:|---:|---:|---:|---:|")
    for word in WORDS:
        s = swedish.stem(word)
        a = {i for i, st in enumerate(stems_only) if s in st}
        b = {i for i, st in enumerate(with_parts) if s in st or any(t.startswith(s) and len(t) <= len(s) + 2 for t in st)}
        c = {i for i, t in enumerate(texts) if word in t.lower()}
        false_c = {i for i in c if i not in b and not any(
            (word in tok) and (tok.startswith(word) or tok.endswith(word) or word in [tok[x:y] for x, y in swedish.split_compound(tok)])
            for tok in tokens[i])}
        missed = (c - false_c) - b
        print(f"| {word} | {len(a)} | {len(b)} | {len(c)} | {len(false_c)} | {len(missed)} |")


if __name__ == "__main__":
    main()
