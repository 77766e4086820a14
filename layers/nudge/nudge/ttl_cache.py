"""Short-lived in-memory caches of rows marketers edit rarely (segments, experiments).

A warm Lambda container reads such a row once per ``seconds`` instead of once per email; a change
in the table reaches every container within that time. Expiry follows the wall clock (``time.time``),
so a test clock moved past it expires entries as time passing would. ``forget_all`` empties every
cache, as a fresh container starts empty (the local stack calls it between tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")

_caches: list[Expiring[object]] = []


class Expiring(Generic[ValueT]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[Hashable, tuple[float, ValueT]] = {}
        self._lock = threading.Lock()
        _caches.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, load: Callable[[], ValueT]) -> ValueT:
        """The cached value of ``key``, or ``load()``'s (cached) once the entry is older than
        ``seconds``. A load that raises caches nothing."""
        now = time.time()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.seconds:
            return entry[1]
        value = load()
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def forget_all() -> None:
    for cache in _caches:
        cache.clear()
