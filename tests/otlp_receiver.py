"""A tiny OTLP/HTTP receiver on 127.0.0.1 for tests: records the spans that exporters POST to
/v1/traces as JSON (the service's exporter speaks OTLP JSON), flattened one dict per span."""

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                receiver.spans.extend(_flattened(json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, found: Callable[[list[dict]], bool], timeout_s: float = 30) -> list[dict]:
        """The spans received, once `found` holds for them (polled, with a deadline)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found(list(self.spans)):
                return list(self.spans)
            time.sleep(0.1)
        raise AssertionError(f"spans not received within {timeout_s} s: {[span['name'] for span in self.spans]}")

    def close(self) -> None:
        self._server.shutdown()


def _flattened(request: dict) -> list[dict]:
    """Each span of an OTLP JSON export request, with its attributes and its service's name as dicts."""
    spans = []
    for resource_spans in request.get("resourceSpans", []):
        service = _values(resource_spans["resource"].get("attributes", [])).get("service.name")
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                spans.append({**span, "service": service, "attributes": _values(span.get("attributes", []))})
    return spans


def _values(attributes: list[dict]) -> dict[str, object]:
    """OTLP's [{"key", "value": {"stringValue": ...}}] as {key: value}."""
    return {item["key"]: next(iter(item["value"].values())) for item in attributes}
