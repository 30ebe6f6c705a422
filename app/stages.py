"""The one list of stages a task goes through (GET /status `stage`), shared by the pipeline, which
reports the stages of a run, and the services, which add the ones around it."""

from enum import StrEnum


class Stage(StrEnum):
    QUEUED = "queued"  # waiting for a worker
    STARTING = "starting"  # a worker took it: inputs fetched, engine loaded
    PROBING = "probing"  # media read, speech recognised, output planned
    RENDERING = "rendering"  # frames decoded, mouths rendered and encoded; progress moves here
    ENCODING = "encoding"  # the encoder finishing the file
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
