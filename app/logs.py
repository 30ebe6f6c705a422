"""Structured logs: one line per event, `event=<name> key=value ...`, with the task id in context;
with LOG_FORMAT=json, one JSON object per line with the same fields (`JsonLines`).

The service puts the task id of the job a worker runs into a context variable, so lines logged
deep in the pipeline (which knows nothing of tasks) carry it too. Lines never hold secrets or
file paths.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

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


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, task_id, then `event` and
    each field of a `log_event` line as its own key, or `message` for a plain line, and
    `exc_info` with the traceback's text. json.dumps escapes control and non-ASCII characters,
    so a client's text can neither break the line nor forge another."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "task_id": getattr(record, "task_id", "-"),
        }
        event = getattr(record, "log_event", None)
        if event is None:
            line["message"] = record.getMessage()
        else:
            line["event"] = event
            for key, value in getattr(record, "log_fields", {}).items():
                # A field never replaces one of the line's own keys.
                line[f"field_{key}" if key in line or key == "exc_info" else key] = _json_value(value)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        return json.dumps(line, default=str)


def _json_value(value: object) -> object:
    if isinstance(value, float):
        return round(value, 3)
    if value is None or isinstance(value, bool | int):
        return value
    return str(value)


def line_formatter(log_format: str = "text") -> logging.Formatter:
    """The formatter for LOG_FORMAT: `json`, or `text` (LOG_FORMAT, the constant's line)."""
    return JsonLines() if log_format == "json" else logging.Formatter(LOG_FORMAT)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Give every log record the task id; if the root logger has no handler yet, install ours
    with the line format of `log_format` (LOG_FORMAT: text or json; a host app's own set-up is
    left alone). Safe to call again."""
    logging.setLogRecordFactory(_record_with_task_id)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(line_formatter(log_format))
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
        # The JSON formatter takes the event and its fields from the record, unescaped.
        logger.log(level, " ".join(parts), extra={"log_event": event, "log_fields": fields})
    finally:
        if token is not None:
            current_task_id.reset(token)
