"""Overlap the stages of a streamed pass: the producing stage runs ahead in a thread of its own.

    for frame_id, rgb in prefetch(reader, depth=8):   # decoding runs while the loop body detects
        ...

Decoding, cropping and inference spend their time in OpenCV, numpy, torch and OpenVINO, which release Python's
global lock, so a producer thread keeps a core busy while the consumer works: the pass runs at about the speed of its
slowest stage instead of the sum of all. `depth` bounds how far the producer runs ahead, and so the memory it holds.
"""

import queue
import threading
from collections.abc import Iterable, Iterator
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
