"""The local stack's clock under throttling: a batch's threads back off side by side, as on AWS."""

from __future__ import annotations

import threading

from local_stack.emulator.failures import Invocation, overlapping_sleeps, running_invocation


def test_ten_threads_of_one_invocation_sleeping_three_seconds_move_the_clock_three_seconds() -> None:
    moved: list[float] = []
    sleep = overlapping_sleeps(moved.append)
    invocation = Invocation()
    barrier = threading.Barrier(10)

    def lane() -> None:
        running_invocation.set(invocation)
        barrier.wait()
        for _ in range(3):
            sleep(1.0)

    threads = [threading.Thread(target=lane) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(moved) == 3.0


def test_one_thread_sleeping_in_turn_moves_the_clock_by_every_sleep() -> None:
    moved: list[float] = []
    sleep = overlapping_sleeps(moved.append)

    def lane() -> None:
        running_invocation.set(Invocation())
        for _ in range(3):
            sleep(2.0)

    thread = threading.Thread(target=lane)
    thread.start()
    thread.join()
    assert sum(moved) == 6.0


def test_outside_an_invocation_a_sleep_moves_the_clock_by_itself() -> None:
    moved: list[float] = []
    overlapping_sleeps(moved.append)(1.5)
    assert moved == [1.5]
