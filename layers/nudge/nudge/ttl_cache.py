"""Short-lived in-memory caches of rows that change rarely or slowly (segments, experiments, the
catalog and the recommendation model).

A warm Lambda container reads such a row once per ``seconds`` instead of once per email; a change
in the table reaches every container within that time. Expiry follows the wall clock (``time.time``),
so a test clock moved past it expires entries as time passing would. ``forget_all`` empties every
cache, as a fresh container starts empty (the local stack calls it between tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")
KeyT = TypeVar("KeyT", bound=Hashable)

_caches: list[Expiring[object]] = []


class Expiring(Generic[ValueT]):
    """At most ``max_entries`` values (the oldest go first), each for ``seconds``."""

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, ValueT]] = {}
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}
        _caches.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, load: Callable[[], ValueT]) -> ValueT:
        """The cached value of ``key``, or ``load()``'s (cached) once the entry is older than
        ``seconds``. A load that raises caches nothing. Threads that miss the same key at once (a
        batch's records on a cold function) wait for one load instead of each making it."""
        entry = self._fresh(key)
        if entry is not None:
            return entry[1]
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            entry = self._fresh(key)
            if entry is not None:
                return entry[1]
            now = time.time()
            value = load()
            self._store({key: value}, now)
            with self._lock:
                # Waiters hold the lock already; later callers find the value.
                self._loading.pop(key, None)
            return value

    def _fresh(self, key: Hashable) -> tuple[float, ValueT] | None:
        now = time.time()
        with self._lock:
            entry = self._entries.get(key)
        return entry if entry is not None and now - entry[0] < self.seconds else None

    def get_many(
        self, keys: Iterable[KeyT], load: Callable[[list[KeyT]], Mapping[KeyT, ValueT]]
    ) -> dict[KeyT, ValueT]:
        """The values of ``keys``: fresh ones from the cache, the rest from one ``load(missing)``
        call, which returns a value for each key it could read (a key it leaves out is neither
        returned nor cached, so it is read again next time)."""
        now = time.time()
        found: dict[KeyT, ValueT] = {}
        missing: list[KeyT] = []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and now - entry[0] < self.seconds:
                    found[key] = entry[1]
                else:
                    missing.append(key)
        if missing:
            loaded = load(missing)
            self._store(loaded, now)
            found.update(loaded)
        return found

    def _store(self, values: Mapping[KeyT, ValueT], now: float) -> None:
        with self._lock:
            for key, value in values.items():
                self._entries.pop(key, None)  # re-inserted last: the newest
                self._entries[key] = (now, value)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._loading.clear()


def forget_all() -> None:
    for cache in _caches:
        cache.clear()
