"""A model hub on loopback speaking the part of the Hugging Face Hub's HTTP API that
huggingface_hub's `hf_hub_download` uses: HEAD and GET `/{repo_id}/resolve/{revision}/{path}`.

Answers carry what the client reads: `X-Repo-Commit`, the LFS file's SHA-256 as `X-Linked-Etag`,
`X-Linked-Size` and `Content-Length`; a GET with `Range: bytes=N-` gets 206 and the rest of the file.
No `X-Xet-Hash` header is ever sent, so the client downloads over plain HTTP, never through Xet.
A path in `cut_once` has its first GET cut off halfway through the body, as a dropped connection would.
"""

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    repo_id: str
    revision: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeHub:
    # (repo_id, path) -> bytes; every revision answers with the same files at COMMIT.
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    cut_once: set[tuple[str, str]] = field(default_factory=set)
    requests: list[SeenRequest] = field(default_factory=list)
    url: str = ""

    def add(self, repo_id: str, path: str, content: bytes) -> str:
        """Serve `content`; its SHA-256."""
        self.files[(repo_id, path)] = content
        return hashlib.sha256(content).hexdigest()

    def gets(self, path: str) -> list[SeenRequest]:
        return [seen for seen in self.requests if seen.method == "GET" and seen.path == path]


def start(hub: FakeHub) -> ThreadingHTTPServer:
    """Serve `hub` on a free loopback port (sets hub.url); call `.shutdown()` when done."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the tests read hub.requests instead

        def _answer(self, body: bool) -> None:
            parts = urlsplit(self.path).path.lstrip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                return self._missing()
            repo_id, revision, path = f"{parts[0]}/{parts[1]}", unquote(parts[3]), unquote("/".join(parts[4:]))
            hub.requests.append(SeenRequest(self.command, repo_id, revision, path, dict(self.headers.items())))
            content = hub.files.get((repo_id, path))
            if content is None:
                return self._missing()
            start = _range_start(self.headers.get("Range"))
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", f'"{hashlib.sha256(content).hexdigest()}"')
            self.send_header("X-Linked-Size", str(len(content)))
            self.send_header("Content-Length", str(len(content) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
            self.end_headers()
            if not body:
                return
            if (repo_id, path) in hub.cut_once:
                hub.cut_once.discard((repo_id, path))
                self.wfile.write(content[start : start + (len(content) - start) // 2])
                self.wfile.flush()
                self.close_connection = True  # the rest never comes: the client sees a short body
                return
            self.wfile.write(content[start:])

        def _missing(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _range_start(header: str | None) -> int:
    """N of `bytes=N-`, the only form huggingface_hub sends when it resumes; 0 without a Range."""
    if not header or not header.startswith("bytes="):
        return 0
    return int(header.removeprefix("bytes=").split("-", 1)[0] or 0)
