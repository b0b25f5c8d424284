"""Finished responses of one build, reused when the same URL is asked for again.

The database is immutable, so the page for a URL (path, query string and the few request
headers a page reads) is the same until the next build. One :class:`ResponseCache` belongs
to one loaded search index (one build): a rebuild loads a new index with an empty cache, so
nothing is ever served from an old build.

Bounded in bytes (least recently used out first). A URL is stored only the second time it is
asked for within the last ``seen`` distinct URLs, so one-off searches (a query nobody repeats)
do not push out the pages people do repeat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

DEFAULT_MAX_BYTES = 48 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]


class BoundedLRU:
    """A thread-safe mapping bounded by the total ``size_of`` its values, least recently used
    out first (the per-build caches of responses, reader pages and batch rows)."""

    def __init__(self, max_size: int, size_of: Callable[[Any], int]):
        self.max_size = max_size
        self.size_of = size_of
        self.size = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key, value, replace: bool = False) -> None:
        """Keep ``value`` (an existing value stays unless ``replace``), then drop the least
        recently used until the total size fits."""
        with self._lock:
            if key in self._items:
                if not replace:
                    return
                self.size -= self.size_of(self._items.pop(key))
            self._items[key] = value
            self.size += self.size_of(value)
            while self.size > self.max_size:
                _, dropped = self._items.popitem(last=False)
                self.size -= self.size_of(dropped)

    def __len__(self) -> int:
        return len(self._items)


class ResponseCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, seen: int = 20_000):
        self.max_bytes = max_bytes
        self._entries = BoundedLRU(max_bytes, _stored_size)
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._seen_max = seen
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Stored | None:
        found = self._entries.get(key)
        with self._lock:
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        return found

    def put(self, key: tuple, value: Stored) -> bool:
        """Store ``value`` if ``key`` was asked for before (and it fits); True if stored."""
        size = _stored_size(value)
        if size > MAX_ENTRY_BYTES or size > self.max_bytes:
            return False
        h = hash(key)
        with self._lock:
            if h not in self._seen:
                self._seen[h] = None
                if len(self._seen) > self._seen_max:
                    self._seen.popitem(last=False)
                return False
        self._entries.put(key, value, replace=True)
        return True

    @property
    def size_bytes(self) -> int:
        return self._entries.size

    def __len__(self) -> int:
        return len(self._entries)


def _stored_size(value: Stored) -> int:
    return len(value.body) + 200
