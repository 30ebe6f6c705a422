"""Structured logs: one line per event, `event=<name> key=value ...`, with the task id in context.

The service puts the task id of the job a worker runs into a context variable, so lines logged
deep in the pipeline (which knows nothing of tasks) carry it too. Lines never hold secrets or
file paths.
"""

import logging
from contextvars import ContextVar

current_task_id: ContextVar[str] = ContextVar("current_task_id", default="-")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s task_id=%(task_id)s %(message)s"


class _TaskIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "task_id"):  # an explicit task_id (log_event) wins
            record.task_id = current_task_id.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Install our line format on the root logger once (a host app's own set-up is left alone)."""
    root = logging.getLogger()
    if any(isinstance(f, _TaskIdFilter) for handler in root.handlers for f in handler.filters):
        return
    if root.handlers:
        for handler in root.handlers:
            handler.addFilter(_TaskIdFilter())
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_TaskIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def log_event(
    logger: logging.Logger, event: str, level: int = logging.INFO, task_id: str | None = None, **fields: object
) -> None:
    """Log `event=<event> k=v ...`; floats get 3 decimals, values with spaces are quoted.

    `task_id` names the task where the context does not (outside a worker).
    """
    parts = [f"event={event}"]
    for key, value in fields.items():
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        parts.append(f'{key}="{text}"' if " " in text else f"{key}={text}")
    logger.log(level, " ".join(parts), extra={"task_id": task_id} if task_id else None)
