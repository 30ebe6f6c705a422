"""Traces (OpenTelemetry): on when OTEL_EXPORTER_OTLP_ENDPOINT is set, off and free otherwise.

Only OpenTelemetry's API is imported here (FastAPI imports it anyway); without a provider its
tracer hands out non-recording spans, so the calls below cost next to nothing when tracing is off.
`start` imports the SDK and the exporter only when the endpoint is set.

Spans: one per HTTP request (`routes/request_tracing`), one per job run (`lipsync.job`, the
executor), and under it one per stage of the run (`StageSpans`). A job's trace context travels
with its task id (`handover`) to the thread or Celery worker that runs it (`resumed`), so one trace
covers request -> job -> stages in either execution mode. The context is W3C `traceparent`.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from app.stages import Stage

if TYPE_CHECKING:  # types only: the SDK is imported by `start`, when tracing is on
    from opentelemetry.sdk.trace import TracerProvider

    from app.config import Settings

# Exported over OTLP/HTTP with JSON bodies: the protobuf exporter needs protobuf>=5, and
# requirements.txt pins protobuf 4 for LiteRT (the face models).
_TRACES_PATH = "/v1/traces"
_PROPAGATOR = TraceContextTextMapPropagator()
# A run's end: no span of its own.
_LAST_STAGES = frozenset({Stage.DONE, Stage.FAILED, Stage.CANCELLED})
# This process's provider (None: tracing off) and the tracer its spans come from.
_provider: "TracerProvider | None" = None
_tracer: trace.Tracer = trace.NoOpTracer()


def enabled(settings: "Settings") -> bool:
    return settings.otel_exporter_otlp_endpoint is not None


def start(settings: "Settings", default_service: str) -> None:
    """Export this process's spans to OTEL_EXPORTER_OTLP_ENDPOINT (in batches, from a thread), as
    OTEL_SERVICE_NAME or `default_service`. Nothing when the endpoint is unset, or when this
    process already has a provider (an earlier app here, or a test's)."""
    if _provider is not None or settings.otel_exporter_otlp_endpoint is None:
        return
    # Imported here: a process with tracing off never loads the SDK.
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The SDK reads its other OTEL_* variables (sampler, batch delays, exporter headers) itself.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.otel_service_name or default_service}))
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + _TRACES_PATH
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    install(provider)


def install(provider: "TracerProvider | None") -> None:
    """Make `provider` this process's (None: tracing off). Tests install one with an in-memory exporter."""
    global _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer(__name__) if provider is not None else trace.NoOpTracer()


def flush() -> None:
    """Send the spans still waiting in the batch (a process about to end without `atexit`)."""
    if _provider is not None:
        _provider.force_flush()


@contextmanager
def span(
    name: str, parent: Mapping[str, str] | None = None, kind: SpanKind = SpanKind.INTERNAL, **attributes: object
) -> Iterator[Span]:
    """A span, current for the block: a child of the current one, or of the W3C context `parent`
    (an incoming request's headers). An exception leaving the block marks it failed."""
    parent_context = _PROPAGATOR.extract(parent) if parent is not None else None
    with _tracer.start_as_current_span(
        name, context=parent_context, kind=kind, attributes=_attributes(attributes)
    ) as current:
        yield current


def annotate(**attributes: object) -> None:
    """Add attributes to the current span (unset ones, None, are left out)."""
    trace.get_current_span().set_attributes(_attributes(attributes))


def fail(reason: str) -> None:
    """Mark the current span failed: an error the code handled (a failed task) rather than raised."""
    trace.get_current_span().set_status(Status(StatusCode.ERROR, reason))


def handover(task_id: str) -> dict[str, str]:
    """The trace context that goes with task `task_id`'s job to whatever runs it (empty when
    nothing is traced); the current span, the request that queued the job, is tagged with the id."""
    annotate(task_id=task_id)
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def resumed(carrier: Mapping[str, str]) -> Iterator[None]:
    """Run the block in the trace context `handover` gave (none: the block's spans start a trace)."""
    token = context.attach(_PROPAGATOR.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


class StageSpans:
    """One span per stage of a run, each ended when the next begins: children of the span current
    when this is made (the job's), with `attributes` on each. Not thread-safe: one run's calls."""

    def __init__(self, first_stage: Stage, **attributes: object) -> None:
        self._parent = context.get_current()
        self._attributes = _attributes(attributes)
        self._span: Span | None = None
        self.enter(first_stage)

    def enter(self, stage: Stage) -> None:
        """End the running stage's span and begin `stage`'s (a last stage has none: done, failed...)."""
        self.close()
        if stage not in _LAST_STAGES:
            self._span = _tracer.start_span(
                f"lipsync.{stage.value}", context=self._parent, attributes={**self._attributes, "stage": stage.value}
            )

    def close(self, error: str | None = None) -> None:
        """End the running stage's span, failed with `error` if given."""
        if self._span is None:
            return
        if error is not None:
            self._span.set_status(Status(StatusCode.ERROR, error))
        self._span.end()
        self._span = None


def _attributes(values: Mapping[str, object]) -> dict[str, AttributeValue]:
    """Span attributes take strings (a StrEnum is one), numbers and booleans; anything else goes as
    its text, and None (unset) is left out."""
    return {
        key: value if isinstance(value, str | bool | int | float) else str(value)
        for key, value in values.items()
        if value is not None
    }
