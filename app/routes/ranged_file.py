"""Downloads whose Range handling follows RFC 9110 and whose errors are JSON: a file on this
host, or an object streamed from the bucket.

Starlette's FileResponse refuses a whole range set when one of its ranges cannot be satisfied
(`bytes=0-1,-0` got 416), where RFC 9110 serves the satisfiable ones, and answers range errors
as text/plain. The range set is checked here first, with Starlette's own parser.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from app.errors import ErrorCode
from app.routes.errors import error_response
from app.services.storage.interface import StoredResult

# Reads bytes start..end (exclusive) of a stored result.
ObjectReader = Callable[[int, int], Iterator[bytes]]


class RangedFileResponse(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        units, _, spec = http_range.partition("=")
        if units.strip().lower() == "bytes":
            requested = cls._parse_ranges(spec, file_size)
            satisfiable = [(start, end) for start, end in requested if start < min(end, file_size)]
            if requested and not satisfiable:
                raise RangeNotSatisfiable(file_size)
            # Unsatisfiable members of a set are dropped (RFC 9110, 14.1.2).
            http_range = "bytes=" + ",".join(f"{start}-{end - 1}" for start, end in satisfiable)
        return super()._parse_range_header(http_range, file_size)


def file_download(request: Request, path: Path, media_type: str, filename: str) -> Response:
    """The file, with 206 for satisfiable ranges, or a JSON 400/416 for a bad Range header.

    A Range under an If-Range that no longer matches is ignored (the whole file), as Starlette does.
    """
    stat = path.stat()
    response = RangedFileResponse(path, media_type=media_type, filename=filename, stat_result=stat)
    http_range, if_range = request.headers.get("range"), request.headers.get("if-range")
    if http_range is None or (if_range is not None and not response._should_use_range(if_range)):
        return response
    ranges = _checked_ranges(http_range, stat.st_size)
    return ranges if isinstance(ranges, Response) else response


def object_download(
    request: Request, stored: StoredResult, read: ObjectReader, media_type: str, filename: str
) -> Response:
    """The object streamed through this host, with 206 for one satisfiable range. A set of
    several ranges gets the whole object (RFC 9110 lets a server ignore Range)."""
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": stored.etag,
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    start, end, status = 0, stored.size, 200
    http_range, if_range = request.headers.get("range"), request.headers.get("if-range")
    if http_range is not None and if_range in (None, stored.etag):
        ranges = _checked_ranges(http_range, stored.size)
        if isinstance(ranges, Response):
            return ranges
        if len(ranges) == 1:
            (start, end), status = ranges[0], 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(
        iterate_in_threadpool(read(start, end)), status_code=status, headers=headers, media_type=media_type
    )


def _checked_ranges(http_range: str, size: int) -> list[tuple[int, int]] | Response:
    """The satisfiable ranges (end exclusive), or the JSON 416/400 answer for a bad Range header."""
    try:
        return RangedFileResponse._parse_range_header(http_range, size)
    except RangeNotSatisfiable:
        return error_response(
            416,
            ErrorCode.RANGE_NOT_SATISFIABLE,
            f"no requested range lies within the file's {size} bytes; ask for bytes below {size}",
            headers={"Content-Range": f"bytes */{size}"},
        )
    except MalformedRangeHeader as error:
        return error_response(
            400, ErrorCode.INVALID_REQUEST, f"malformed Range header: {error.content}; send bytes=<start>-<end>"
        )
