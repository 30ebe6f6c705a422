"""A real HTTP server on 127.0.0.1 that receives webhooks, for tests."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every POST; answers with the queued status codes first, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes, int]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def events(self, delivered_only: bool = True) -> list[dict]:
        return [json.loads(body) for _, body, status in self.received if status == 200 or not delivered_only]

    def wait_for(self, count: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.events()) >= count, self.received

    def close(self) -> None:
        self._server.shutdown()
