"""Webhook tries in this process (local mode): due ones run on a bounded pool of threads.

One timer thread hands each try to the pool when it is due and does no I/O itself, so no
receiver can stop it; a slow or broken receiver holds one pool thread for at most its deadline.
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Item = TypeVar("Item")


class ThreadDispatch(Generic[Item]):
    def __init__(self, run: Callable[[Item], None], concurrency: int) -> None:
        self._run = run
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook")
        self._due: list[tuple[float, int, Item]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._timer: threading.Thread | None = None

    def schedule(self, item: Item, delay_s: float) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), item))
            if self._timer is None:
                self._timer = threading.Thread(target=self._hand_over_forever, name="webhook-timer", daemon=True)
                self._timer.start()
            self._changed.notify()

    def _hand_over_forever(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(timeout=self._due[0][0] - time.monotonic() if self._due else None)
                _, _, item = heapq.heappop(self._due)
            try:
                self._pool.submit(self._run, item)
            except RuntimeError:  # the interpreter is shutting down: nothing runs any more
                return
