"""The Redis registry notes when Redis answers again after an outage, on a real redis-server."""

import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from app.errors import BackendUnavailable
from app.services.tasks.model import ACTIVE_STATES, TaskState, utc_now
from app.services.tasks.redis_registry import RedisTaskRegistry
from tests.distributed.servers import RedisServer
from tests.services.test_registry import _task

pytestmark = pytest.mark.distributed


def test_redis_counts_as_answering_only_from_its_return_after_an_outage(tmp_path: Path):
    server = RedisServer(tmp_path / "redis", tmp_path / "redis.log").start()
    try:
        registry = RedisTaskRegistry(server.url)
        assert registry.count(TaskState.QUEUED) == 0
        assert registry.answering_since() is None  # never away
        server.kill()
        with pytest.raises(BackendUnavailable):
            registry.count(TaskState.QUEUED)
        assert registry.answering_since() is None  # still away
        server.start()
        back = utc_now()
        registry.count(TaskState.QUEUED)
        assert registry.answering_since() >= back
        # Frozen, Redis fails nobody: a call just waits through the outage, which counts as one.
        before_freeze = registry.answering_since()
        os.kill(server.process.pid, signal.SIGSTOP)
        thaw = threading.Timer(2.0, os.kill, (server.process.pid, signal.SIGCONT))
        thaw.start()
        registry.count(TaskState.QUEUED)
        thaw.join()
        assert registry.answering_since() > before_freeze
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def test_a_cancelled_task_frees_its_idempotency_key(tmp_path: Path):
    server = RedisServer(tmp_path / "redis", tmp_path / "redis.log").start()
    try:
        registry = RedisTaskRegistry(server.url)
        first = replace(_task("first"), idempotency_key="order-7")
        assert registry.admit(first, 10, ACTIVE_STATES) == first
        # While the first task holds the key, a second submission under it gets the first back.
        assert registry.admit(replace(_task("second"), idempotency_key="order-7"), 10, ACTIVE_STATES) == first
        assert registry.transition("first", ACTIVE_STATES, status=TaskState.CANCELLED)
        assert registry.find_by_key("order-7") is None
        second = replace(_task("second"), idempotency_key="order-7")
        assert registry.admit(second, 10, ACTIVE_STATES) == second
        assert registry.find_by_key("order-7").task_id == "second"
    finally:
        server.stop()
