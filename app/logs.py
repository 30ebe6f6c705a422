"""Structured logs: one line per event, `event=<name> key=value ...`, with the task id in context.

The service puts the task id of the job a worker runs into a context variable, so lines logged
deep in the pipeline (which knows nothing of tasks) carry it too. Lines never hold secrets or
file paths.
"""

import logging
from contextvars import ContextVar

current_task_id: ContextVar[str] = ContextVar("current_task_id", default="-")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s task_id=%(task_id)s %(message)s"


_plain_record_factory = logging.getLogRecordFactory()

# Characters a client could use to forge or break a log line: control characters (CR, LF, NUL,
# ESC...), Unicode line and paragraph separators, and the quote that closes a quoted value.
_UNSAFE = {
    **{code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]},
    **{code: f"\\u{code:04x}" for code in (0x2028, 0x2029)},
    ord("\r"): "\\r",
    ord("\n"): "\\n",
    ord("\t"): "\\t",
    ord('"'): '\\"',
}


def escaped(text: str) -> str:
    """`text` on one line, with every unsafe character written as its Python escape."""
    return text.translate(_UNSAFE)


def _record_with_task_id(*args: object, **kwargs: object) -> logging.LogRecord:
    """Every record of the process carries the task id in context (`-` outside a task), so any
    handler may print it: ours, uvicorn's, or those Celery and billiard make for themselves."""
    record = _plain_record_factory(*args, **kwargs)
    record.task_id = current_task_id.get()
    return record


def configure_logging(level: int = logging.INFO) -> None:
    """Give every log record the task id; if the root logger has no handler yet, install ours
    with our line format (a host app's own set-up is left alone). Safe to call again."""
    logging.setLogRecordFactory(_record_with_task_id)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)


def log_event(
    logger: logging.Logger, event: str, level: int = logging.INFO, task_id: str | None = None, **fields: object
) -> None:
    """Log `event=<event> k=v ...`; floats get 3 decimals, values with spaces are quoted, and
    values are `escaped` (they may hold a client's text: field names, paths, ids).

    `task_id` names the task where the context does not (outside a worker).
    """
    parts = [f"event={event}"]
    for key, value in fields.items():
        text = f"{value:.3f}" if isinstance(value, float) else escaped(str(value))
        parts.append(f'{key}="{text}"' if " " in text else f"{key}={text}")
    token = current_task_id.set(task_id) if task_id else None
    try:
        logger.log(level, " ".join(parts))
    finally:
        if token is not None:
            current_task_id.reset(token)
