"""A file download whose Range handling follows RFC 9110 and whose errors are JSON.

Starlette's FileResponse refuses a whole range set when one of its ranges cannot be satisfied
(`bytes=0-1,-0` got 416), where RFC 9110 serves the satisfiable ones, and answers range errors
as text/plain. The range set is checked here first, with Starlette's own parser.
"""

from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable


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
    response = RangedFileResponse(path, media_type=media_type, filename=filename, stat_result=path.stat())
    http_range, if_range = request.headers.get("range"), request.headers.get("if-range")
    if http_range is None or (if_range is not None and not response._should_use_range(if_range)):
        return response
    size = response.stat_result.st_size
    try:
        RangedFileResponse._parse_range_header(http_range, size)
    except RangeNotSatisfiable:
        return JSONResponse(
            {"detail": f"no requested range lies within the file's {size} bytes"},
            status_code=416, headers={"Content-Range": f"bytes */{size}"},
        )
    except MalformedRangeHeader as error:
        return JSONResponse({"detail": f"malformed Range header: {error.content}"}, status_code=400)
    return response
