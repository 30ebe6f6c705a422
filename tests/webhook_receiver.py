"""Real servers on 127.0.0.1 (or another loopback address) that receive webhooks, for tests: an
HTTP receiver that records each POST, and a raw-socket one that misbehaves."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every POST; answers with the status codes queued for its event (`answers_for`),
    else with those queued for any (`answers`), then 200."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[tuple[dict, bytes, int]] = []
        self.answers: list[int] = []
        self.answers_for: dict[str, list[int]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                queued = receiver.answers_for.get(json.loads(body).get("event")) or receiver.answers
                status = queued.pop(0) if queued else 200
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
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


class RawReceiver:
    """Accepts connections, reads what comes, and writes `answer` verbatim (None: never answers,
    holding the connection open). Counts connections, and those the sender closed."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.connections = 0
        self.closed_by_sender = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept_forever, daemon=True).start()

    def _accept_forever(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            self._open.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            connection.recv(65536)
            if self.answer is not None:
                connection.sendall(self.answer)
            while connection.recv(65536):  # until the sender hangs up
                pass
        except OSError:  # it hung up while the answer was being written
            pass
        self.closed_by_sender += 1

    def close(self) -> None:
        # shutdown, not only close: it wakes the threads blocked in accept() and recv().
        for sock in (self._listener, *self._open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
