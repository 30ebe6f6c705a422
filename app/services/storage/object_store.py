"""An S3-compatible bucket through boto3: whole files in and out, ranged reads, presigned links.

Every call is blocking (call it off the event loop) and bounded in time; an unreachable or
failing store raises BackendUnavailable, so that a request answers 503 and a job fails clearly.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.config import Settings
from app.errors import BackendUnavailable
from app.logs import log_event
from app.services.storage.interface import StoredResult

logger = logging.getLogger(__name__)

# Bytes read from the store per step when streaming a result to a client.
READ_CHUNK_BYTES = 1024 * 1024
# Short timeouts and two tries: a stopped store gives a clear error in seconds, not minutes.
_CLIENT_CONFIG = {"connect_timeout": 3, "read_timeout": 30, "retries": {"max_attempts": 2, "mode": "standard"}}
# Uploads larger than this go in parts of this size, read from disk as they are sent.
_TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024)
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._client = _client(settings, settings.s3_endpoint_url)
        # Links handed to clients must name the host they reach the store by.
        self._public_client = _client(settings, settings.s3_public_endpoint_url or settings.s3_endpoint_url)

    def ensure_bucket(self) -> None:
        with _reachable("bucket"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if _code(error) not in _NOT_FOUND_CODES:
                    raise
                self._client.create_bucket(Bucket=self.bucket)

    def put_file(self, path: Path, key: str) -> None:
        with _reachable(key):
            self._client.upload_file(str(path), self.bucket, key, Config=_TRANSFER)

    def get_file(self, key: str, path: Path) -> None:
        with _reachable(key):
            self._client.download_file(self.bucket, key, str(path), Config=_TRANSFER)

    def head(self, key: str) -> StoredResult | None:
        with _reachable(key):
            try:
                answer = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _code(error) in _NOT_FOUND_CODES:
                    return None
                raise
        return StoredResult(int(answer["ContentLength"]), answer["ETag"], key=key)

    def read(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start` to `end` (exclusive) of the object, a chunk at a time."""
        with _reachable(key):
            body = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"]
        try:
            while True:
                with _reachable(key):
                    chunk = body.read(READ_CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def presigned_url(self, key: str, filename: str, ttl_s: int) -> str:
        with _reachable(key):
            return self._public_client.generate_presigned_url(
                "get_object",
                ExpiresIn=ttl_s,
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": "video/mp4",
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
            )

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object whose key starts with `prefix`; none is fine."""
        keys = [key for key, _ in self.list(prefix)]
        with _reachable(prefix):
            for first in range(0, len(keys), 1000):  # S3's most keys per delete call
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys[first : first + 1000]]}
                )

    def list(self, prefix: str) -> list[tuple[str, datetime]]:
        """(key, last modified) of every object under `prefix`."""
        with _reachable(prefix):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [(item["Key"], item["LastModified"]) for page in pages for item in page.get("Contents", [])]


def _client(settings: Settings, endpoint_url: str | None) -> BaseClient:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=Config(
            signature_version="s3v4", s3={"addressing_style": settings.s3_addressing_style}, **_CLIENT_CONFIG
        ),
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _reachable(key: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        log_event(logger, "storage.failed", logging.ERROR, key=key, reason=type(error).__name__)
        raise BackendUnavailable(
            "the object storage is unreachable or refused the request; try again shortly"
        ) from error
