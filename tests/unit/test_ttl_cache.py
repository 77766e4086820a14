"""The minute-long caches of rarely changing rows: one load for threads that miss together."""

from __future__ import annotations

import threading
import time

import pytest

from nudge.ttl_cache import Expiring


def test_threads_that_miss_the_same_key_at_once_wait_for_one_load() -> None:
    cache: Expiring[str] = Expiring(60)
    loads: list[int] = []
    start = threading.Barrier(10)

    def load() -> str:
        loads.append(1)
        time.sleep(0.05)  # a DynamoDB read: the others arrive meanwhile
        return "segment"

    def record() -> None:
        start.wait()
        assert cache.get("vip", load) == "segment"

    threads = [threading.Thread(target=record) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1


def test_a_failed_load_caches_nothing_and_the_next_caller_loads_again() -> None:
    cache: Expiring[str] = Expiring(60)

    def failing() -> str:
        raise RuntimeError("throttled")

    with pytest.raises(RuntimeError):
        cache.get("vip", failing)
    assert cache.get("vip", lambda: "segment") == "segment"


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
