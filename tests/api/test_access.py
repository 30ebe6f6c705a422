"""API key: every route but /health needs X-API-Key when API_KEY is set."""

import logging
import re
import uuid

import pytest

from tests.api.routes.test_process import leftover_entries
from tests.conftest import upload

KEY = "s3cret-key"


@pytest.fixture
def guarded(make_client):
    return make_client(api_key=KEY)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/models"),
        ("GET", f"/status/{uuid.uuid4()}"),
        ("GET", f"/result/{uuid.uuid4()}"),
        ("DELETE", f"/tasks/{uuid.uuid4()}"),
        ("GET", "/no-such-route"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}])
def test_routes_refuse_missing_or_wrong_key_with_401(guarded, method, path, headers):
    response = guarded.request(method, path, headers=headers)
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]


def test_health_stays_open(guarded):
    assert guarded.get("/health").status_code == 200


def test_the_docs_open_without_a_key_and_offer_it_to_every_protected_route(guarded):
    page = guarded.get("/docs")
    assert page.status_code == 200
    # Served from this server (a pip package's assets), not a CDN: it works offline.
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(asset.startswith("/docs-assets/") for asset in assets)
    for asset in assets:
        assert guarded.get(asset).status_code == 200
    schema = guarded.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Needed on every route but /health when the server sets API_KEY",
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert (operation.get("security") == [{"ApiKey": []}]) == (path != "/health"), path
            assert ("401" in operation["responses"]) == (path != "/health"), path
    result = schema["paths"]["/result/{task_id}"]["get"]["responses"]
    assert {"200", "202", "206"} <= set(result) and "video/mp4" in result["200"]["content"]
    assert {"202", "409", "413", "507"} <= set(schema["paths"]["/process/"]["post"]["responses"])


def test_right_key_is_let_through(guarded):
    assert guarded.get("/models", headers={"X-API-Key": KEY}).status_code == 200
    assert guarded.get(f"/status/{uuid.uuid4()}", headers={"X-API-Key": KEY}).status_code == 404


def test_upload_without_key_is_refused_and_stores_nothing(guarded, face_video, speech_audio):
    assert upload(guarded, face_video, speech_audio).status_code == 401
    assert leftover_entries(guarded) == []


def test_upload_with_key_is_accepted(guarded, face_video, speech_audio):
    with face_video.open("rb") as video, speech_audio.open("rb") as audio:
        response = guarded.post(
            "/process/",
            headers={"X-API-Key": KEY},
            data={"model_choice": "model1"},
            files={"video_file": ("v.mp4", video, "video/mp4"), "audio_file": ("a.wav", audio, "audio/wav")},
        )
    assert response.status_code == 202


def test_cors_preflight_passes_without_key(make_client):
    client = make_client(api_key=KEY, cors_origins="https://app.example")
    response = client.options(
        "/models",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_no_key_configured_means_open(client):
    assert client.get("/models").status_code == 200


def test_non_uuid4_ids_are_unknown(client):
    uuid1 = str(uuid.uuid1())
    assert client.get(f"/status/{uuid1}").status_code == 404


def test_a_refused_request_is_logged_with_its_reason_and_without_the_key(guarded, caplog):
    with caplog.at_level(logging.WARNING, logger="app.routes.errors"):
        guarded.get("/models", headers={"X-API-Key": "wrong-key-value"})
        guarded.get("/status/not-a-uuid", headers={"X-API-Key": KEY})
    lines = [record.getMessage() for record in caplog.records]
    assert any("event=request.refused" in line and "status=401" in line for line in lines), lines
    assert any("status=404" in line and "reason=" in line for line in lines), lines
    assert not any("wrong-key-value" in line or KEY in line for line in lines)
