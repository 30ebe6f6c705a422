"""Runs tasks off the event loop: a FIFO queue of task ids served by a fixed number of worker threads."""

import logging
import os
import queue
import threading

from app import tracing
from app.services.execution.runner import RunTask

logger = logging.getLogger(__name__)

# Media and model work gives way to the event loop answering requests: a worker thread (and the
# threads and ffmpeg processes it starts, which inherit its niceness) runs this much nicer.
_WORKER_NICENESS = 10


class ThreadJobRunner:
    """`workers` threads call `run` on task ids in submission order; its exceptions are its own business."""

    def __init__(self, workers: int, run: RunTask) -> None:
        self._workers = workers
        self._run = run
        # Each task id with its trace context (`tracing.handover`): the job continues the request's trace.
        self._jobs: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, task_id: str) -> None:
        self._start_workers()
        self._jobs.put((task_id, tracing.handover(task_id)))

    def withdraw(self, task_id: str) -> None:
        """Nothing to drop: a thread takes the id, finds the task cancelled and skips it at once."""

    def stop(self) -> None:
        """Let running jobs finish their current call, then end the workers."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout=30)

    def _start_workers(self) -> None:
        with self._lock:
            while len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name=f"lipsync-worker-{len(self._threads)}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        _lower_priority()
        while (job := self._jobs.get()) is not None:
            task_id, trace_context = job
            try:
                with tracing.resumed(trace_context):
                    self._run(task_id)
            except Exception:
                logger.exception("event=job.crashed")


def _lower_priority() -> None:
    """Make the calling thread nicer (on Linux niceness is per thread; elsewhere it stays as is)."""
    thread = threading.get_native_id()
    try:
        niceness = min(19, os.getpriority(os.PRIO_PROCESS, thread) + _WORKER_NICENESS)
        os.setpriority(os.PRIO_PROCESS, thread, niceness)
    except OSError:
        logger.warning("event=worker.priority_unchanged")
