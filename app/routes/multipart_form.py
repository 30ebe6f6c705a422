"""Read a multipart/form-data body as it arrives, with no spool copy.

Starlette's form parser spools every file to the system temp folder before the route runs: a
chunked body (no Content-Length) was written there in full before any limit applied, on a disk
that MIN_FREE_DISK_MB does not watch, and every upload was then copied a second time. Here each
file part goes straight into the sink the caller opens for it, so the sinks' limits (size, disk)
apply to the bytes as they come, and a body that stalls or trickles is timed out.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.errors import InvalidUpload, UploadTimedOut, UploadTooLarge
from app.services.uploads.sink import UploadSink

if TYPE_CHECKING:  # the library declares its callbacks' types for type checkers only
    from python_multipart.multipart import MultipartCallbacks

# Text fields are short names; anything longer is not one of ours.
_MAX_FIELD_BYTES = 1024
_MAX_PARTS = 16
# The multipart framing around the files: boundaries, part headers and text fields.
_MAX_FRAMING_BYTES = 1024 * 1024


@dataclass(frozen=True)
class UploadTimeouts:
    # Longest wait for the next bytes of the body.
    idle_s: float
    # Longest time the whole body may take.
    total_s: float


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    # Each received file field's declared content type.
    file_types: dict[str, str | None] = field(default_factory=dict)


async def receive_form(
    request: Request,
    open_sink: Callable[[str], UploadSink],
    file_fields: tuple[str, ...],
    max_file_bytes: int,
    timeouts: UploadTimeouts,
) -> ReceivedForm:
    """Parse the body; each part of `file_fields` is written to `open_sink(field)`.

    File parts of other fields are read and dropped. A field sent twice is refused (ambiguous).
    """
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise InvalidUpload("body", "send the files as multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidUpload("body", "the multipart/form-data content type has no boundary")
    collector = _PartCollector(open_sink, file_fields)
    parser = MultipartParser(boundary, collector.callbacks())
    max_body = len(file_fields) * max_file_bytes + _MAX_FRAMING_BYTES
    received = 0
    try:
        async for chunk in _body_chunks(request, timeouts):
            received += len(chunk)
            if received > max_body:
                raise UploadTooLarge(
                    f"request body is larger than {len(file_fields)} files of {max_file_bytes // (1024 * 1024)} MB; "
                    "send smaller files"
                )
            parser.write(chunk)
            await collector.flush()
        if not collector.ended:
            raise InvalidUpload("body", "the multipart body ended before its closing boundary")
        await collector.flush(force=True)
    except MultipartParseError as error:
        raise InvalidUpload("body", f"malformed multipart body: {error}") from error
    finally:
        await collector.close()
    return collector.form


async def _body_chunks(request: Request, timeouts: UploadTimeouts) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeouts.total_s
    chunks = request.stream().__aiter__()
    while True:
        wait = min(timeouts.idle_s, deadline - loop.time())
        try:
            chunk = await asyncio.wait_for(anext(chunks), max(wait, 0.0))
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadTimedOut(
                f"the upload was too slow: the body must arrive within {timeouts.total_s:g} s, "
                f"with no pause over {timeouts.idle_s:g} s; send it again over a faster connection, or smaller files"
            ) from None
        except ClientDisconnect:
            raise InvalidUpload("body", "the client disconnected during the upload") from None
        if chunk:
            yield chunk


class _PartCollector:
    """The parser's callbacks: routes each part's bytes to a sink, a text buffer, or nowhere."""

    def __init__(self, open_sink: Callable[[str], UploadSink], file_fields: tuple[str, ...]) -> None:
        self._open_sink = open_sink
        self._file_fields = file_fields
        self._sinks: list[UploadSink] = []
        self.form = ReceivedForm()
        self.ended = False
        self._parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._sink: UploadSink | None = None
        self._text: bytearray | None = None
        self._name = ""

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    async def flush(self, force: bool = False) -> None:
        for sink in self._sinks:
            await sink.flush(force)

    async def close(self) -> None:
        for sink in self._sinks:
            await sink.close()

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise InvalidUpload("body", f"more than {_MAX_PARTS} parts")
        self._headers, self._sink, self._text, self._name = {}, None, None, ""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        self._require_short_header()

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._require_short_header()

    def _require_short_header(self) -> None:
        if len(self._header_name) + len(self._header_value) > _MAX_FIELD_BYTES:
            raise InvalidUpload("body", "a part header is too long")

    def _header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition"))
        self._name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if self._name in self.form.fields or self._name in self.form.file_types:
            raise InvalidUpload(self._name, "sent more than once; send each field once")
        is_file = b"filename" in disposition
        if is_file and self._name in self._file_fields:
            self._sink = self._open_sink(self._name)
            self._sinks.append(self._sink)
            content_type = self._headers.get(b"content-type")
            self.form.file_types[self._name] = content_type.decode("latin-1") if content_type else None
        elif not is_file:
            self._text = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._sink is not None:
            self._sink.add(data[start:end])
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > _MAX_FIELD_BYTES:
                raise InvalidUpload(self._name, f"a form field is limited to {_MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._text is not None:
            self.form.fields[self._name] = self._text.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True
