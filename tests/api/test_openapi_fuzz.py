"""Schemathesis fuzzes every operation of the app's own OpenAPI schema: no 5xx, responses match it.

Bounded: a few examples per operation, well under a minute in all. One check is left out:
`positive_data_acceptance` expects any schema-valid request to succeed, but a schema cannot say
"bytes that decode as an mp4", so random file bytes are rightly refused with 400.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.config import Settings
from app.main import create_app

_EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    # A queue of one job keeps accidental valid uploads from piling up work.
    return create_app(
        Settings(
            _env_file=None,
            upload_dir=tmp_path_factory.mktemp("fuzz-uploads"),
            max_queued=0,
            max_upload_mb=2,
        )
    )


schema = schemathesis.pytest.from_fixture("fuzzed_schema")


@pytest.fixture(scope="module")
def fuzzed_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


@schema.parametrize()
@settings(max_examples=_EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_schema(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
