"""The service's settings, read from the environment and `.env` (documented in `.env.example`)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_ENGINES = {
    "model1": "viseme",
    "model2": "wav2lip",
    "model3": "wav2lip_gan",
    "model4": "musetalk",
    "model5": "latentsync",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    upload_dir: Path = Path("/tmp/uploads")
    max_upload_mb: int = Field(500, gt=0)
    max_video_seconds: float = Field(600.0, gt=0)
    # Largest accepted frame, width x height (400 above it): 4096x4096 by default.
    max_video_pixels: int = Field(4096 * 4096, gt=0)
    # Output frame rate cap: faster videos are resampled to it.
    max_output_fps: float = Field(60.0, gt=0)
    # Videos whose real frame rate (counted from their packets) is above this are refused (400).
    max_source_fps: float = Field(240.0, gt=0)
    # Frames one output may have (400 above it); the default is MAX_VIDEO_SECONDS at 60 fps.
    max_output_frames: int = Field(36_000, gt=0)
    # An upload is refused (408) when its body pauses longer than this, or takes longer in all.
    upload_idle_timeout_s: float = Field(30.0, gt=0)
    upload_timeout_s: float = Field(900.0, gt=0)
    # Uploads are refused (507) when the upload dir's disk has less free space than this.
    min_free_disk_mb: int = Field(1024, ge=0)
    # Browser origins allowed to call the API from other sites, comma-separated; "*" allows any.
    # Empty (default): same origin only, no CORS headers at all.
    cors_origins: str = ""
    # Where clients reach this service (e.g. https://lipsync.example.com/): result_url in webhooks
    # is built from it. Unset: from the request's own Host, which a client chooses.
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Uploads received at once by one API process (503 + Retry-After past it).
    max_concurrent_uploads: int = Field(4, ge=1)
    # Open connections one API process keeps (python -m app.server; 503 + Retry-After past it),
    # and how long a connection may take to send a request's headers before it is closed.
    max_connections: int = Field(256, ge=1)
    request_head_timeout_s: float = Field(10.0, gt=0)
    # Where python -m app.server (scripts/serve.sh) listens: this machine only by default.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Neural engines' arithmetic: `auto` is fp16 on CUDA (as the references run) and fp32 on the
    # CPU; `fp32` on CUDA trades speed and memory for exactness (debugging a checkpoint).
    precision: Literal["auto", "fp16", "fp32"] = "auto"
    weights_dir: Path = Path("weights")
    # LatentSync (model5): denoising steps, classifier-free guidance scale and the seed of its
    # noise (the reference's defaults: 20, 1.5, 1247). The same seed gives the same video.
    latentsync_steps: int = Field(20, ge=1, le=100)
    latentsync_guidance: float = Field(1.5, ge=1.0, le=10.0)
    latentsync_seed: int = Field(1247, ge=0, lt=2**63)
    max_concurrent_jobs: int = Field(1, ge=1)
    max_queued: int = Field(16, ge=0)
    task_ttl_hours: float = Field(24.0, gt=0)
    # How often the sweep for expired tasks runs.
    sweep_interval_s: float = Field(600.0, gt=0)
    api_key: str | None = None
    # Which engine serves each model choice of the API.
    model_engines: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODEL_ENGINES))
    encoder_preset: str = "veryfast"
    # 15 keeps re-encoded areas visually lossless: at least 40 dB PSNR (clip mean) above the nose
    # on every face of bench.quality_set; 17 fell to 39.8 dB on a grainy photograph (P12).
    encoder_crf: int = Field(15, ge=0, le=51)
    # Frames decoded, rendered and encoded together; bounds memory per job and caps the engine's
    # batch. Unset: 128 on CUDA (one full generator batch), 32 on the CPU.
    chunk_frames: int | None = Field(None, ge=1)
    # Full-range face detection runs every this many tracked frames (landmarks follow the face
    # in between).
    face_detect_interval: int = Field(8, ge=1)
    # Landmarks on every Nth frame, interpolated between: faster, but a source mouth that opens
    # for fewer than N frames is missed. 1 = every frame.
    landmark_step: int = Field(1, ge=1)
    # Frames per neural-engine batch; unset: 128 on CUDA, 16 on the CPU.
    batch_size: int | None = Field(None, ge=1)
    # Pixels added around the face box for Wav2Lip: [top, bottom, left, right] (JSON list).
    face_pads: tuple[int, int, int, int] = (0, 10, 0, 0)

    # Webhooks: signed with this secret (no secret: webhook_url is refused); private targets are
    # refused unless allowed; failed deliveries are retried after base * 4**n seconds.
    webhook_secret: str | None = None
    webhook_allow_private: bool = False
    webhook_retry_base_s: float = Field(5.0, gt=0)
    # Tries sent at once (local mode; a webhooks worker's --concurrency in distributed mode), and
    # the most one try may take, connecting and TLS included, however its receiver behaves.
    webhook_concurrency: int = Field(8, ge=1)
    webhook_timeout_s: float = Field(15.0, gt=0)

    # Logs: `text` (one `key=value` line per event) or `json` (one JSON object per line).
    log_format: Literal["text", "json"] = "text"
    # Prometheus metrics at GET /metrics (open without API_KEY unless METRICS_REQUIRE_KEY); a Celery
    # worker serves its own on WORKER_METRICS_PORT when set (one port per worker process on a host).
    metrics_enabled: bool = True
    metrics_require_key: bool = False
    worker_metrics_port: int | None = Field(None, ge=1, le=65535)
    # Traces (OpenTelemetry's own variable names): sent over OTLP/HTTP to <endpoint>/v1/traces when
    # the endpoint is set (e.g. http://collector:4318); the service name defaults to
    # modellab-api or modellab-worker.
    otel_exporter_otlp_endpoint: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    otel_service_name: str | None = None

    # Distributed mode (README "Scaling out"): jobs go through Celery on Redis, task state lives
    # in Redis, files in S3-compatible storage. The defaults keep everything in this process.
    execution: Literal["local", "celery"] = "local"
    storage: Literal["local", "s3"] = "local"
    redis_url: str = "redis://localhost:6379/0"
    s3_endpoint_url: str | None = None
    # Where clients reach the storage, for presigned result URLs (unset: S3_ENDPOINT_URL).
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "modellab"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    # GET /result answers 307 to a presigned URL valid this long, instead of streaming the video.
    result_redirect: bool = False
    result_url_ttl_s: int = Field(300, ge=1, le=7 * 24 * 3600)
    # A job is stopped after this long; Redis redelivers an unacknowledged job only after the
    # visibility timeout, which must therefore be longer.
    job_time_limit_s: float = Field(3600.0, gt=0)
    visibility_timeout_s: float = Field(7200.0, gt=0)
    # Runs of a job that ended with its worker dying; the next one fails the task instead.
    max_attempts: int = Field(3, ge=1)
    # A running job whose worker has not reported for this long is handed to another worker.
    heartbeat_timeout_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _distributed_mode_is_complete(self) -> "Settings":
        if self.execution == "celery" and self.storage != "s3":
            raise ValueError("EXECUTION=celery needs STORAGE=s3: workers on other hosts read the inputs from it")
        if self.storage == "s3" and self.execution != "celery":
            # A single host keeps each task's record (task.json) in the task's folder, which the
            # bucket storage uses as scratch space and removes after each step.
            raise ValueError("STORAGE=s3 needs EXECUTION=celery: a single host keeps its tasks on its own disk")
        if self.visibility_timeout_s <= self.job_time_limit_s:
            raise ValueError(
                "VISIBILITY_TIMEOUT_S must be longer than JOB_TIME_LIMIT_S, or a running job is delivered twice"
            )
        if self.execution == "celery" and self.max_queued < 1:
            raise ValueError("EXECUTION=celery needs MAX_QUEUED >= 1: every job waits in the queue first")
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url_ends_with_slash(cls, value: str | None) -> str | None:
        # Paths are appended to it ("result/<id>"): one slash between, whatever was written.
        return value if value is None or value.endswith("/") else value + "/"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def min_free_disk_bytes(self) -> int:
        return self.min_free_disk_mb * 1024 * 1024

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def results_dir(self) -> Path:
        return self.upload_dir / "results"


@lru_cache
def get_settings() -> Settings:
    return Settings()
