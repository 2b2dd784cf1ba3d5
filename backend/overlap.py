"""Overlap the stages of a streamed pass: the producing stage runs ahead in a thread of its own, and independent
calls run side by side.

    for frame_id, rgb in prefetch(reader, depth=8):   # decoding runs while the loop body detects
        ...

    with Workers(2) as workers:                       # two tracklets estimated at once
        future = workers.submit(estimator.estimate, crops)

Decoding, cropping and inference spend their time in OpenCV, numpy, torch, OpenVINO and MediaPipe, which release
Python's global lock, so a producer thread keeps a core busy while the consumer works: the pass runs at about the speed
of its slowest stage instead of the sum of all. `depth` bounds how far the producer runs ahead, and `Workers` how many
calls are under way, and so the memory they hold.
"""

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()
_POLL_SECONDS = 0.1


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """Yield `items` in order while a background thread produces the next ones, at most `depth` ahead.

    An exception raised by `items` is raised here, after the items produced before it. Leaving the loop early (break,
    an exception in its body, closing this generator) stops the producer and closes `items` (a generator's `finally`
    blocks run, e.g. a video file is released) before this generator returns."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="prefetch", daemon=True)
    producer.start()
    try:
        while True:
            entry = buffer.get()
            if entry is _END:
                return
            if isinstance(entry, _Failure):
                raise entry.error
            yield entry
    finally:
        stop.set()
        producer.join()


def available_cores() -> int:
    """Cores this process should keep busy: OMP_NUM_THREADS when set (the batch gives each video its share of the
    machine that way), else the CPUs it may run on."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Workers:
    """Runs calls in up to `count` threads at once. `submit` waits while `count` calls are under way, so what is
    queued (and the memory its arguments hold) never grows past `count` calls; with `count` 1 each call runs at once
    in the caller's thread, as a plain call would. Leaving the `with` block waits for the calls under way."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.count = count
        self._executor = ThreadPoolExecutor(count, thread_name_prefix="worker") if count > 1 else None
        self._free = threading.Semaphore(count)

    def submit(self, function: Callable[..., T], *args) -> "Future[T]":
        """Start `function(*args)`; its result or exception is in the returned future."""
        if self._executor is None:
            future: Future = Future()
            try:
                future.set_result(function(*args))
            except Exception as exc:  # kept for the caller, as the threads keep theirs
                future.set_exception(exc)
            return future
        self._free.acquire()
        future = self._executor.submit(function, *args)
        future.add_done_callback(lambda _: self._free.release())
        return future

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
