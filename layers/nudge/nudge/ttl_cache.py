"""Short-lived in-memory caches of rows that change rarely or slowly (segments, experiments, the
catalog and the recommendation model).

A warm Lambda container reads such a row once per ``seconds`` instead of once per email; a change
in the table reaches every container within that time. Expiry follows the wall clock (``time.time``),
so a test clock moved past it expires entries as time passing would. ``forget_all`` empties every
cache, as a fresh container starts empty (the local stack calls it between tests).

Loads are single-flight: threads that miss the same keys at once (a batch's records on a cold
function, up to ten threads) make one load of each key and wait for it, instead of each reading it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

ValueT = TypeVar("ValueT")
KeyT = TypeVar("KeyT", bound=Hashable)

_caches: list[Expiring[object]] = []


class _Load:
    """One ``load`` call in flight; the threads that need its keys wait for ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        # What it read, once it returned; None while it runs and after it raised.
        self.values: Mapping[Any, Any] | None = None


class Expiring(Generic[ValueT]):
    """At most ``max_entries`` values (the oldest go first), each for ``seconds``."""

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, ValueT]] = {}
        self._lock = threading.Lock()
        self._loading: dict[Hashable, _Load] = {}
        _caches.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, load: Callable[[], ValueT]) -> ValueT:
        """The cached value of ``key``, or ``load()``'s (cached) once the entry is older than
        ``seconds``. A load that raises caches nothing. Threads that miss the same key at once (a
        batch's records on a cold function) wait for one load instead of each making it."""
        while True:
            found = self.get_many([key], lambda _: {key: load()})
            if key in found:
                return found[key]
            # Only a get_many load of the same cache leaves a key out: then this thread reads it.

    def get_many(
        self, keys: Iterable[KeyT], load: Callable[[list[KeyT]], Mapping[KeyT, ValueT]]
    ) -> dict[KeyT, ValueT]:
        """The values of ``keys``: fresh ones from the cache, the rest from one ``load(missing)``
        call, which returns a value for each key it could read (a key it leaves out is neither
        returned nor cached, so it is read again next time).

        Keys another thread is loading meanwhile are not loaded again: this thread loads the keys
        nobody is loading, then waits for the others' loads and takes what they read (without what
        they left out). When a load it waited for raised, it loads those keys again (or waits for
        whoever does). A thread waits only once its own load is over, so no two threads ever wait for
        each other."""
        wanted = list(dict.fromkeys(keys))
        found: dict[KeyT, ValueT] = {}
        pending = wanted
        while pending:
            now = time.time()
            mine: list[KeyT] = []
            theirs: dict[_Load, list[KeyT]] = {}
            flight = _Load()
            with self._lock:
                for key in pending:
                    entry = self._entries.get(key)
                    if entry is not None and now - entry[0] < self.seconds:
                        found[key] = entry[1]
                    elif key in self._loading:
                        theirs.setdefault(self._loading[key], []).append(key)
                    else:
                        mine.append(key)
                        self._loading[key] = flight
            if mine:
                found.update(self._load(mine, load, flight, now))
            pending = []
            for other, waited in theirs.items():
                other.done.wait()
                if other.values is None:
                    pending += waited  # it raised
                else:
                    found.update({key: other.values[key] for key in waited if key in other.values})
        return {key: found[key] for key in wanted if key in found}

    def _load(
        self,
        keys: list[KeyT],
        load: Callable[[list[KeyT]], Mapping[KeyT, ValueT]],
        flight: _Load,
        now: float,
    ) -> dict[KeyT, ValueT]:
        try:
            loaded = load(keys)
            values = {key: loaded[key] for key in keys if key in loaded}
            self._store(values, now)
            flight.values = values
            return values
        finally:
            with self._lock:
                for key in keys:
                    if self._loading.get(key) is flight:
                        del self._loading[key]
            flight.done.set()

    def _store(self, values: Mapping[KeyT, ValueT], now: float) -> None:
        with self._lock:
            for key, value in values.items():
                self._entries.pop(key, None)  # re-inserted last: the newest
                self._entries[key] = (now, value)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]

    def expired(self, keys: Iterable[KeyT]) -> list[KeyT]:
        """Which of ``keys`` have a value whose time has passed, and are not being loaded: what a
        warm container may read again alongside another read (keys it never read are left to
        ``get_many``, whose single-flight load a cold batch's threads share)."""
        now = time.time()
        with self._lock:
            return [
                key
                for key in dict.fromkeys(keys)
                if key not in self._loading
                and key in self._entries
                and now - self._entries[key][0] >= self.seconds
            ]

    def known(self) -> list[Hashable]:
        """Every key with a value, fresh or expired (newest last)."""
        with self._lock:
            return list(self._entries)

    def put_many(self, values: Mapping[KeyT, ValueT]) -> None:
        """Store values read elsewhere (a read that fetched them with other rows), fresh from now."""
        self._store(values, time.time())

    def expire(self) -> None:
        with self._lock:
            self._entries = {key: (0.0, value) for key, (_, value) in self._entries.items()}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._loading.clear()


def forget_all() -> None:
    for cache in _caches:
        cache.clear()


def expire_all() -> None:
    """Every entry expired but still known, as a warm container finds its caches after a quiet
    minute (the benchmark's quiet store, without moving the clock)."""
    for cache in _caches:
        cache.expire()
