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
