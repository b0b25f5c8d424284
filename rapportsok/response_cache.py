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

DEFAULT_MAX_BYTES = 48 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]


class ResponseCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, seen: int = 20_000):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, Stored] = OrderedDict()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._seen_max = seen
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Stored | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: tuple, value: Stored) -> bool:
        """Store ``value`` if ``key`` was asked for before (and it fits); True if stored."""
        size = len(value.body) + 200
        if size > MAX_ENTRY_BYTES or size > self.max_bytes:
            return False
        h = hash(key)
        with self._lock:
            if h not in self._seen:
                self._seen[h] = None
                if len(self._seen) > self._seen_max:
                    self._seen.popitem(last=False)
                return False
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body) + 200
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body) + 200
            return True

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
