"""The 290 Swedish municipalities with SCB kommunkod and county (län).

Source: SCB, "Kommuner i Sverige" / Kommunkoder (län- och kommunindelning), valid since 2007
(no change to the 290 municipalities since Knivsta was formed in 2003). Shipped as
``rapportsok/data/kommuner.csv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Municipality:
    kommunkod: str
    kommun: str
    lanskod: str
    lan: str


@lru_cache(maxsize=1)
def all_municipalities() -> tuple[Municipality, ...]:
    with resources.files("rapportsok").joinpath("data/kommuner.csv").open(encoding="utf-8") as f:
        return tuple(Municipality(**row) for row in csv.DictReader(f))


@lru_cache(maxsize=1)
def by_code() -> dict[str, Municipality]:
    return {m.kommunkod: m for m in all_municipalities()}


@lru_cache(maxsize=1)
def by_name() -> dict[str, Municipality]:
    return {m.kommun.lower(): m for m in all_municipalities()}


def lookup(value: str) -> Municipality | None:
    """Find a municipality by 4-digit code or by name (case-insensitive, 'X kommun' accepted)."""
    value = (value or "").strip()
    if value.isdigit():
        return by_code().get(value.zfill(4))
    name = value.lower().removesuffix(" kommun").removesuffix(" stad")
    return by_name().get(name)


@dataclass(frozen=True)
class Actor:
    """An organisation or place that belongs to one municipality (``data/aktorer.csv``).

    ``kommunkod`` is the municipality the actor belongs to (for a joint organisation: the
    host); ``members`` are further municipalities it serves. ``weight`` is how much one
    mention counts as evidence: 2 for a name that is the municipality's own, 1 for an
    abbreviation or a school name that may exist elsewhere.
    """

    name: str
    kind: str
    kommunkod: str
    members: tuple[str, ...]
    weight: int
    description: str


@lru_cache(maxsize=1)
def actors() -> tuple[Actor, ...]:
    with resources.files("rapportsok").joinpath("data/aktorer.csv").open(encoding="utf-8") as f:
        out = []
        for row in csv.DictReader(f):
            out.append(Actor(name=row["namn"], kind=row["typ"], kommunkod=row["kommunkod"],
                             members=tuple(c for c in row["medlemmar"].split(";") if c), weight=int(row["vikt"]),
                             description=row["beskrivning"]))
        return tuple(out)
