"""prefetch: order, running ahead within its bound, errors at the right item, and a clean stop; Workers: calls side
by side within their count."""

import threading
from contextlib import nullcontext

import pytest

from backend.overlap import Workers, available_cores, prefetch

WAIT = 30  # seconds; only reached when the producer never runs ahead (a failure)


class Source:
    """A generator of 0..n-1 that records how many items it produced and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = False
        self.reached: dict[int, threading.Event] = {i: threading.Event() for i in range(n)}

    def __iter__(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise OSError(f"broken at {i}")
                self.produced += 1
                self.reached[i].set()
                yield i
        finally:
            self.closed = True


def test_items_come_in_order_and_the_producer_runs_ahead_within_its_depth():
    source = Source(20)
    seen = []
    for item in prefetch(iter(source), depth=3):
        if item == 0:  # a consumer that waited for nothing would block here forever without a producer thread
            assert source.reached[3].wait(WAIT)
        assert source.produced <= item + 1 + 3 + 1  # consumed, queued (depth), one waiting to be queued
        seen.append(item)
    assert seen == list(range(20)) and source.closed


def test_an_error_of_the_producer_is_raised_after_the_items_before_it():
    source = Source(10, fail_at=4)
    seen = []
    with pytest.raises(OSError, match="broken at 4"):
        for item in prefetch(iter(source), depth=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3] and source.closed


@pytest.mark.parametrize("how", ["break", "raise"])
def test_leaving_early_stops_the_producer_and_closes_the_source(how):
    source = Source(1000)
    threads_before = threading.active_count()
    with pytest.raises(ValueError) if how == "raise" else nullcontext():
        for item in prefetch(iter(source), depth=4):
            if item == 2:
                if how == "raise":
                    raise ValueError("consumer failed")
                break
    assert source.closed and source.produced < 1000
    assert threading.active_count() == threads_before


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        next(prefetch([1, 2], depth=0))



def test_workers_run_calls_side_by_side():
    both_running = threading.Barrier(2, timeout=WAIT)  # broken (an error) unless two calls run at the same time

    def call(value):
        if value < 2:
            both_running.wait()
        return value * 10

    with Workers(2) as workers:
        futures = [workers.submit(call, value) for value in range(6)]
        assert [f.result() for f in futures] == [0, 10, 20, 30, 40, 50]


def test_submit_waits_while_every_worker_is_busy():
    release, submitted = threading.Event(), threading.Event()
    with Workers(2) as workers:
        busy = [workers.submit(release.wait, WAIT) for _ in range(2)]
        third = threading.Thread(target=lambda: (workers.submit(int), submitted.set()))
        third.start()
        assert not submitted.wait(0.5)  # held back while both workers are busy
        release.set()
        assert submitted.wait(WAIT) and all(f.result() for f in busy)
        third.join()


def test_one_worker_runs_each_call_at_once_in_the_callers_thread():
    workers = Workers(1)
    future = workers.submit(lambda: threading.current_thread())
    assert future.done() and future.result() is threading.current_thread()


def test_a_failed_call_keeps_its_error_for_the_caller():
    def fail():
        raise OSError("no disk")

    for count in (1, 2):
        with Workers(count) as workers:
            future = workers.submit(fail)
            with pytest.raises(OSError, match="no disk"):
                future.result()


def test_available_cores_follows_the_thread_variable(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert available_cores() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert available_cores() >= 1
