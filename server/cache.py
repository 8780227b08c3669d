"""The answer cache: finished answers kept by request, valid until the store changes.

The graph only changes when a build is published (or, on a scratch store, by an update), so the
key includes the build id and the update generation: a new build or an update makes every older
entry unreachable, and the least recently used entries are dropped past the size limits.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

MAX_BYTES = 256 * 1024 * 1024


class AnswerCache:
    def __init__(self, max_entries: int, max_bytes: int = MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if self.max_entries <= 0 or size > self.max_bytes // 8:
            return
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
