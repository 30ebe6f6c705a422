"""What the root logger writes while a test runs, as the service formats it."""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def root_lines(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """The root logger's INFO lines and above, through `formatter`, while the block runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
