"""The task registry in Redis, shared by every API host and worker (EXECUTION=celery).

Keys, under a prefix:
- `task:<id>`: the task's record as JSON (`task_records.to_record`);
- `state:<status>`: the set of task ids in each state, so counts are one call;
- `created`: every task id scored by its creation time, for the TTL sweep.
Admission is a Lua script and other changes optimistic transactions (WATCH), so that a check
and its write are one atomic step across hosts.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any, TypeVar

import redis
from redis.client import Pipeline

from app.errors import BackendUnavailable, TaskNotFound
from app.logs import log_event
from app.services.tasks.model import TaskInfo, TaskState, utc_now
from app.services.tasks.records import from_record, to_record

logger = logging.getLogger(__name__)

Answer = TypeVar("Answer")

_PREFIX = "modellab:"
# A Redis call gives up after this long: a request answers 503 instead of hanging.
_SOCKET_TIMEOUT_S = 5.0
_CONNECT_TIMEOUT_S = 2.0
# An answer slower than this means Redis was away meanwhile (redis-py retries a refused or timed-out
# call with backoff before it gives up); a healthy Redis answers in milliseconds.
_SLOW_ANSWER_S = 1.0

# KEYS: task, its state sets' prefix, created index, Idempotency-Key index (or ""). ARGV: record
# JSON, limit, counted states (JSON list), task id, creation time, task keys' prefix. Returns the admitted task's
# id, the id of the task already holding the key, or false when full. A cancelled or removed task
# holds no key: the client may use it for a new task.
_ADMIT = """
if KEYS[4] ~= "" then
  local holder = redis.call('GET', KEYS[4])
  local held = holder and redis.call('GET', ARGV[6] .. holder)
  if held and cjson.decode(held).status ~= 'cancelled' then return holder end
end
local queued = 0
for _, state in ipairs(cjson.decode(ARGV[3])) do
  queued = queued + redis.call('SCARD', KEYS[2] .. state)
end
if queued >= tonumber(ARGV[2]) then return false end
local previous = redis.call('GET', KEYS[1])
if previous then redis.call('SREM', KEYS[2] .. cjson.decode(previous).status, ARGV[4]) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2] .. cjson.decode(ARGV[1]).status, ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
if KEYS[4] ~= "" then redis.call('SET', KEYS[4], ARGV[4]) end
return ARGV[4]
"""


class RedisTaskRegistry:
    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=_SOCKET_TIMEOUT_S,
            socket_connect_timeout=_CONNECT_TIMEOUT_S,
            decode_responses=True,
        )
        self._admit = self._redis.register_script(_ADMIT)
        self._away = False
        self._answering_since: datetime | None = None

    def answering_since(self) -> datetime | None:
        """When Redis last came back after this process found it away (failed or slow calls);
        None if it never was. Before then nobody could report to it, so silence means nothing."""
        return self._answering_since

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Redis failures become a 503-class domain error, never a crash or a hang; an outage
        and the moment Redis answers again are noted for `answering_since`."""
        started = time.monotonic()
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self._away = True
            log_event(logger, "redis.unreachable", logging.ERROR, reason=type(error).__name__)
            raise BackendUnavailable("the task store (Redis) is unreachable; try again shortly") from error
        if self._away or time.monotonic() - started > _SLOW_ANSWER_S:
            self._away = False
            self._answering_since = utc_now()
            log_event(logger, "redis.answering")

    def add(self, task: TaskInfo) -> None:
        self.admit(task, limit=2**62, counted=frozenset())

    def admit(self, task: TaskInfo, limit: int, counted: frozenset[TaskState]) -> TaskInfo | None:
        key_index = _key_index(task.idempotency_key) if task.idempotency_key else ""
        with self._reachable():
            admitted = self._admit(
                keys=[_task_key(task.task_id), f"{_PREFIX}state:", f"{_PREFIX}created", key_index],
                args=[
                    json.dumps(to_record(task)),
                    limit,
                    json.dumps(sorted(counted)),
                    task.task_id,
                    task.created_at.timestamp(),
                    _task_key(""),
                ],
            )
        if admitted is None:
            return None
        return task if admitted == task.task_id else self.get(admitted)

    def find_by_key(self, idempotency_key: str) -> TaskInfo | None:
        with self._reachable():
            holder = self._redis.get(_key_index(idempotency_key))
        try:
            task = self.get(str(holder)) if holder else None
        except TaskNotFound:
            return None
        return None if task is None or task.status is TaskState.CANCELLED else task

    def get(self, task_id: str) -> TaskInfo:
        with self._reachable():
            raw = self._redis.get(_task_key(task_id))
        if raw is None:
            raise TaskNotFound(f"no task with id {task_id}")
        return from_record(json.loads(raw))

    def transition(
        self,
        task_id: str,
        allowed: frozenset[TaskState],
        expect: Mapping[str, object] | None = None,
        **changes: Any,
    ) -> bool:
        """Apply `changes` only while the task is in an `allowed` state and holds the `expect`ed
        values (compared in their record form); say whether it was. An optimistic transaction
        (WATCH): the record is changed in Python, so every value keeps its exact JSON form."""
        key = _task_key(task_id)
        wanted = _as_record(expect or {})

        def apply(pipe: Pipeline) -> bool:
            raw = pipe.get(key)
            if raw is None:
                return False
            record = json.loads(raw)
            if record["status"] not in allowed or any(record.get(name) != value for name, value in wanted.items()):
                return False
            updated = {**record, **_as_record(changes)}
            pipe.multi()
            pipe.set(key, json.dumps(updated))
            if updated["status"] != record["status"]:
                pipe.srem(f"{_PREFIX}state:{record['status']}", task_id)
                pipe.sadd(f"{_PREFIX}state:{updated['status']}", task_id)
            pipe.execute()
            return True

        return self._atomically(apply, key)

    def count(self, state: TaskState) -> int:
        with self._reachable():
            return int(self._redis.scard(f"{_PREFIX}state:{state}"))

    def in_state(self, state: TaskState) -> list[TaskInfo]:
        with self._reachable():
            return self._load(sorted(str(member) for member in self._redis.smembers(f"{_PREFIX}state:{state}")))

    def remove(self, task_id: str) -> None:
        """Forget the task; its Idempotency-Key is freed only if it still names this task."""
        key = _task_key(task_id)

        def apply(pipe: Pipeline) -> None:
            raw = pipe.get(key)
            record = json.loads(raw) if raw is not None else {}
            index = _key_index(record["idempotency_key"]) if record.get("idempotency_key") else None
            if index is not None:
                pipe.watch(index)
            holder = pipe.get(index) if index is not None else None
            pipe.multi()
            if record:
                pipe.srem(f"{_PREFIX}state:{record['status']}", task_id)
            if index is not None and holder == task_id:
                pipe.delete(index)
            pipe.zrem(f"{_PREFIX}created", task_id)
            pipe.delete(key)
            pipe.execute()

        self._atomically(apply, key)

    def restore(self, task: TaskInfo) -> None:
        self.add(task)

    def all(self) -> list[TaskInfo]:
        with self._reachable():
            return self._load([str(member) for member in self._redis.zrange(f"{_PREFIX}created", 0, -1)])

    def _atomically(self, apply: Callable[[Pipeline], Answer], key: str) -> Answer:
        """Run `apply` on a pipeline watching `key` until no other client changed what it read
        (redis-py's optimistic transaction: WatchError means try again)."""
        with self._reachable(), self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    return apply(pipe)
                except redis.WatchError:
                    continue

    def _load(self, ids: list[str]) -> list[TaskInfo]:
        raws = self._redis.mget([_task_key(task_id) for task_id in ids]) if ids else []
        return [from_record(json.loads(raw)) for raw in raws if raw is not None]

    def check_durable(self) -> None:
        """Refuse a Redis that would evict task keys or lose them on restart, where it says so
        (a managed Redis may forbid CONFIG: then the operator answers for it)."""
        with self._reachable():
            try:
                policy = self._redis.config_get("maxmemory-policy").get("maxmemory-policy")
                appendonly = self._redis.config_get("appendonly").get("appendonly")
            except redis.ResponseError:
                log_event(logger, "redis.config_unreadable", logging.WARNING)
                return
        if policy not in (None, "noeviction"):
            raise RuntimeError(f"Redis evicts keys (maxmemory-policy {policy}); set it to noeviction")
        if appendonly not in (None, "yes"):
            raise RuntimeError("Redis would lose task state on restart; start it with --appendonly yes")


def _task_key(task_id: str) -> str:
    return f"{_PREFIX}task:{task_id}"


def _key_index(idempotency_key: str) -> str:
    """Which task holds a client's Idempotency-Key (hashed: the key is the client's text)."""
    return f"{_PREFIX}idempotency:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


def _as_record(values: Mapping[str, object]) -> dict[str, object]:
    """Field values in the form `to_record` stores them (enums as strings, times ISO 8601,
    dataclasses as objects)."""
    return {name: _stored_form(value) for name, value in values.items()}


def _stored_form(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value
