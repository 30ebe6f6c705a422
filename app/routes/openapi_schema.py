"""The OpenAPI schema, completed with what FastAPI cannot infer: when the server sets API_KEY,
the API-key scheme (so Swagger shows Authorize) on every protected route, with its 401 answer."""

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.routes.api_key import API_KEY_HEADER, is_open_path

SCHEME = "ApiKey"
_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def schema_builder(app: FastAPI, requires_key: bool) -> Callable[[], dict]:
    """`app.openapi`: the schema is built once, on first request."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            if requires_key:
                _require_key(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def _require_key(schema: dict) -> None:
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "Needed on every route but /health when the server sets API_KEY",
    }
    for path, operations in schema["paths"].items():
        if is_open_path(path):
            continue
        for operation in operations.values():
            operation["security"] = [{SCHEME: []}]
            operation["responses"].setdefault(
                "401",
                {
                    "description": "Missing or wrong X-API-Key",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            )
