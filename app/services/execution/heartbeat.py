"""A run's heartbeat: it reports itself alive from a thread, so that a silent worker is known dead."""

import logging
import threading
from collections.abc import Callable, Mapping

from app.errors import BackendUnavailable
from app.logs import log_event
from app.services.tasks.model import TaskState, utc_now
from app.services.tasks.registry import TaskRegistry

logger = logging.getLogger(__name__)

_RUNNING = frozenset({TaskState.PROCESSING})


def start_heartbeat(
    registry: TaskRegistry, task_id: str, mine: Mapping[str, object], interval_s: float
) -> Callable[[], None]:
    """Report the run alive every `interval_s` until the returned function is called. Each beat
    names the run's attempt: a replaced run's beats change nothing."""
    stopped = threading.Event()

    def beat() -> None:
        while not stopped.wait(interval_s):
            try:
                registry.transition(task_id, _RUNNING, expect=mine, heartbeat_at=utc_now())
            except BackendUnavailable:
                log_event(logger, "task.heartbeat_failed", logging.WARNING)

    thread = threading.Thread(target=beat, name=f"heartbeat-{task_id[:8]}", daemon=True)
    thread.start()

    def stop() -> None:
        stopped.set()
        thread.join(timeout=10)

    return stop
