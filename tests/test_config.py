from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_env_example_lists_every_setting():
    listed = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert listed == {name.upper() for name in Settings.model_fields}


def test_env_example_parses_to_the_defaults(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    assert Settings(_env_file=ENV_EXAMPLE) == Settings(_env_file=None)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"execution": "celery"}, "EXECUTION=celery needs STORAGE=s3"),
        ({"storage": "s3"}, "STORAGE=s3 needs EXECUTION=celery"),
        ({"job_time_limit_s": 600, "visibility_timeout_s": 600}, "VISIBILITY_TIMEOUT_S must be longer"),
        ({"execution": "celery", "storage": "s3", "max_queued": 0}, "MAX_QUEUED >= 1"),
    ],
)
def test_an_incomplete_distributed_set_up_is_refused_at_start(settings, complaint):
    with pytest.raises(ValidationError, match=complaint):
        Settings(_env_file=None, **settings)
