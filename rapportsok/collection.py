"""What the collection holds, in plain words: reports, kommuner and years, and their licences
(the overview on the home page and /om)."""

from __future__ import annotations

import sqlite3


def overview(conn: sqlite3.Connection) -> dict:
    rows = [dict(r) for r in conn.execute(
        "select municipality, kommunkod, year, licence from reports order by municipality, year")]
    kommuner = sorted({(r["municipality"] or "okänd kommun", r["kommunkod"]) for r in rows})
    years = sorted({r["year"] for r in rows if r["year"] is not None})
    cells: dict = {}
    for r in rows:
        key = (r["kommunkod"], r["year"])
        cells[key] = cells.get(key, 0) + 1
    licences: dict[str, int] = {}
    for r in rows:
        name = (r["licence"] or "ingen uppgift om licens").strip()
        licences[name] = licences.get(name, 0) + 1
    return {"n_reports": len(rows), "n_kommuner": len(kommuner),
            "kommuner": [{"name": n, "code": c} for n, c in kommuner], "years": years,
            "first_year": years[0] if years else None, "last_year": years[-1] if years else None,
            "cells": cells, "max": max(cells.values(), default=0), "licences": sorted(licences.items())}


def summary(o: dict) -> str:
    """"Samlingen: 5 rapporter från 4 kommuner, 2019–2023"."""
    reports = f"{o['n_reports']} {'rapport' if o['n_reports'] == 1 else 'rapporter'}"
    kommuner = f"{o['n_kommuner']} {'kommun' if o['n_kommuner'] == 1 else 'kommuner'}"
    span = ""
    if o["first_year"]:
        span = f", {o['first_year']}" + (f"–{o['last_year']}" if o["last_year"] != o["first_year"] else "")
    return f"Samlingen: {reports} från {kommuner}{span}"
