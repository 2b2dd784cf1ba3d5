"""prefetch: order, running ahead within its bound, errors at the right item, and a clean stop."""

import threading
from contextlib import nullcontext

import pytest

from backend.overlap import prefetch

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

