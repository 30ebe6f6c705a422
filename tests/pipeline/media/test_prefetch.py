import threading

import pytest

from app.pipeline.media.prefetch import prefetch


def test_items_arrive_in_order():
    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))


def test_producer_errors_reach_the_consumer():
    def failing():
        yield 1
        raise ValueError("decoder broke")

    with pytest.raises(ValueError, match="decoder broke"):
        list(prefetch(failing()))


def test_stopping_early_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield 0
        finally:
            closed.set()

    stream = prefetch(endless(), depth=2)
    next(stream)
    stream.close()
    assert closed.wait(5)
