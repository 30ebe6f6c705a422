"""Run a producer ahead of its consumer in a thread, so decoding overlaps with rendering."""

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_S = 0.1


def prefetch(source: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """Yield `source`'s items, produced up to `depth` ahead in a worker thread.

    An exception in the producer is raised in the consumer; a consumer that stops early (break,
    exception, close) stops the producer and closes `source`, which releases what it holds.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                if not _offer(items, item, stop):
                    break
            _offer(items, _DONE, stop)
        except BaseException as error:  # handed to the consumer
            _offer(items, error, stop)
        finally:
            close = getattr(source, "close", None)
            if close:
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _offer(items: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item` once there is room; False if the consumer stopped first."""
    while not stop.is_set():
        try:
            items.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False
