"""Liveness and readiness probes answer without the API key (orchestrators send none)."""

import pytest


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_a_probe_answers_ok_without_the_api_key(make_client, path):
    guarded = make_client(api_key="s3cret-key")
    response = guarded.get(path)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
