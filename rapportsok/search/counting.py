"""The one counting function: which passages answer a question, per kommun × år.

Used by the search page's overview, the result total ("N textavsnitt innehåller orden"),
the batch CSV's counts and the topic page, so they agree. A passage counts when it contains
the words (:meth:`KeywordSignal.positions`: the same FTS5 match the hit list ranks, read as
ids only, without scoring) – or, for a topic without words, when it is tagged with the topic.
Meaning-only hits are never counted. The counts per kommun × år come from the filter codes held
in NumPy arrays (:mod:`.index`), so no column of the database is read to count.

The overview lists every kommun and year in the collection (within the filters): 0 where a
report exists and no passage matches, ``None`` (shown "–") where the collection has no report.
"""

from __future__ import annotations

import numpy as np

from .. import municipalities


def matching_positions(index, req) -> np.ndarray:
    """Index rows of the passages that answer ``req`` (words, or a topic's tagged passages)."""
    mask = index.mask(req)
    if not req.q:
        return np.flatnonzero(mask) if req.topics else np.zeros(0, dtype=np.int64)
    return index.keyword.positions(req, mask if index.filtered(req) else None)


def overview(index, req) -> dict:
    positions = matching_positions(index, req)
    names = index.kommun_names()
    counted: dict[tuple[str, int], int] = {}
    if len(positions):
        pairs, counts = np.unique(np.stack([index.kommun[positions], index.year[positions]], axis=1), axis=0,
                                  return_counts=True)
        for (kcode, year), n in zip(pairs.tolist(), counts.tolist()):
            counted[(names[kcode], year)] = n
    wanted_k = set(req.kommunkoder)
    kommuner: dict[str, str] = {}
    years: set[int] = set()
    covered: set[tuple[str, int]] = set()
    for name, code, year in index.collection:
        if wanted_k and code not in wanted_k:
            continue
        if year is None or (req.year_from is not None and year < req.year_from) or (req.year_to is not None and year > req.year_to):
            continue
        mun = municipalities.by_code().get(code)
        kommuner[code] = mun.kommun if mun else (name or code)
        years.add(year)
        covered.add((code, year))
    cells = {key: counted.get(key, 0) for key in covered}
    return {"years": sorted(years),
            "kommuner": [{"name": n, "code": c} for c, n in sorted(kommuner.items(), key=lambda kv: kv[1])],
            "cells": cells, "covered": covered, "total": int(len(positions)),
            "basis": "ord" if req.q else "ämne"}
