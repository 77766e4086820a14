"""The minute-long caches of rarely changing rows: one load for threads that miss together.

The races are forced, not hoped for: a test's load waits until every thread has looked its keys up
(a cache hashes a key to find it, so each key notes the threads that hashed it). A cache that let a
thread load what another's load was already reading would then load it once per thread, whatever
the machine's speed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from nudge.ttl_cache import Expiring

THREADS = 10
# Only a guard: a wait that is not over by then is a hang, and the test says so instead of hanging.
HANG_SECONDS = 10


class Lookups:
    """The threads that have looked up a key."""

    def __init__(self) -> None:
        self._threads: set[int] = set()
        self._changed = threading.Condition()

    def note(self) -> None:
        with self._changed:
            self._threads.add(threading.get_ident())
            self._changed.notify_all()

    def wait_for(self, threads: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self._threads) >= threads, HANG_SECONDS)


@dataclass(frozen=True)
class Key:
    """A key that notes each thread that hashes it, that is, looks it up."""

    name: str
    lookups: Lookups = field(compare=False, repr=False)

    def __hash__(self) -> int:
        self.lookups.note()
        return hash(self.name)


def run_at_once(*work: Callable[[], Any]) -> list[Any]:
    """Each callable on its own thread, all started together; what each returned or raised."""
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work[index]()
        except Exception as error:  # handed to the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a thread is still waiting: deadlock"
    return results


def test_threads_that_miss_the_same_key_at_once_wait_for_one_load() -> None:
    cache: Expiring[str] = Expiring(60)
    lookups = Lookups()
    vip = Key("vip", lookups)
    loads: list[int] = []

    def load() -> str:
        lookups.wait_for(THREADS)  # every thread has missed the key meanwhile
        loads.append(1)
        return "segment"

    assert run_at_once(*[lambda: cache.get(vip, load)] * THREADS) == ["segment"] * THREADS
    assert len(loads) == 1


def test_threads_that_miss_the_same_keys_at_once_wait_for_one_get_many_load() -> None:
    cache: Expiring[int] = Expiring(60)
    lookups = Lookups()
    keys = [Key("hat", lookups), Key("scarf", lookups)]
    asked: list[list[Key]] = []

    def load(missing: list[Key]) -> dict[Key, int]:
        lookups.wait_for(THREADS)
        asked.append(missing)
        return {key: len(key.name) for key in missing}

    results = run_at_once(*[lambda: cache.get_many(keys, load)] * THREADS)
    assert results == [{keys[0]: 3, keys[1]: 5}] * THREADS
    assert asked == [keys]


def test_overlapping_key_sets_are_each_loaded_once_and_no_thread_waits_for_another_forever() -> None:
    # Each thread wants a key the next one wants too: whichever loads first, the others load only
    # what nobody is loading, and wait for the rest.
    cache: Expiring[str] = Expiring(60)
    lookups = Lookups()
    a, b, c = (Key(name, lookups) for name in "abc")
    wanted = [[a, b], [b, c], [c, a], [a, b, c]]
    asked: list[list[Key]] = []

    def load(missing: list[Key]) -> dict[Key, str]:
        lookups.wait_for(len(wanted))
        asked.append(missing)
        return {key: key.name.upper() for key in missing}

    results = run_at_once(*[lambda keys=keys: cache.get_many(keys, load) for keys in wanted])
    assert results == [{key: key.name.upper() for key in keys} for keys in wanted]
    assert Counter(key for missing in asked for key in missing) == {a: 1, b: 1, c: 1}


def test_a_failed_load_caches_nothing_and_the_next_caller_loads_again() -> None:
    cache: Expiring[str] = Expiring(60)

    def failing() -> str:
        raise RuntimeError("throttled")

    with pytest.raises(RuntimeError):
        cache.get("vip", failing)
    assert cache.get("vip", lambda: "segment") == "segment"
    with pytest.raises(RuntimeError):
        cache.get_many(["hat"], lambda keys: {"hat": failing()})
    assert cache.get_many(["hat"], lambda keys: {"hat": "read"}) == {"hat": "read"}


def test_threads_waiting_for_a_load_that_fails_load_again_once_and_none_hangs() -> None:
    # The first load fails once every thread waits for it: its own caller gets the error, the
    # waiters do not hang, and one of them reads the keys for all the others.
    cache: Expiring[int] = Expiring(60)
    lookups = Lookups()
    keys = [Key("hat", lookups)]
    asked: list[list[Key]] = []

    def load(missing: list[Key]) -> dict[Key, int]:
        lookups.wait_for(THREADS)
        asked.append(missing)
        if len(asked) == 1:
            raise RuntimeError("throttled")
        return {key: 3 for key in missing}

    results = run_at_once(*[lambda: cache.get_many(keys, load)] * THREADS)
    assert sum(isinstance(result, RuntimeError) for result in results) == 1
    assert [result for result in results if not isinstance(result, RuntimeError)] == [{keys[0]: 3}] * (
        THREADS - 1
    )
    assert asked == [keys, keys]


def test_a_key_the_load_left_out_is_not_read_again_by_its_waiters_but_by_the_next_caller() -> None:
    # DynamoDB leaves keys unprocessed when throttled: the threads that waited for that read go
    # without them (a read more per email is worse than a recommendation less); the next call reads them.
    cache: Expiring[int] = Expiring(60)
    lookups = Lookups()
    hat, unprocessed = Key("hat", lookups), Key("unprocessed", lookups)
    asked: list[list[Key]] = []

    def load(missing: list[Key]) -> dict[Key, int]:
        lookups.wait_for(THREADS)
        asked.append(missing)
        return {key: len(key.name) for key in missing if key is not unprocessed or len(asked) > 1}

    results = run_at_once(*[lambda: cache.get_many([hat, unprocessed], load)] * THREADS)
    assert results == [{hat: 3}] * THREADS
    assert asked == [[hat, unprocessed]]
    assert cache.get_many([hat, unprocessed], load) == {hat: 3, unprocessed: 11}
    assert asked[-1] == [unprocessed]


def test_get_many_reads_only_the_missing_keys_and_keeps_the_newest_within_its_bound() -> None:
    cache: Expiring[int] = Expiring(60, max_entries=3)
    asked: list[list[str]] = []

    def load(keys: list[str]) -> dict[str, int]:
        asked.append(keys)
        return {key: len(key) for key in keys if key != "unprocessed"}

    assert cache.get_many(["a", "bb"], load) == {"a": 1, "bb": 2}
    assert cache.get_many(["a", "ccc", "unprocessed"], load) == {"a": 1, "ccc": 3}
    assert asked == [["a", "bb"], ["ccc", "unprocessed"]]
    cache.get_many(["dddd"], load)  # a fourth entry: the oldest stored ("a") goes
    assert cache.get_many(["a", "bb"], load) == {"a": 1, "bb": 2}
    assert asked[-1] == ["a"]
