"""GET /metrics: Prometheus text that moves with real requests and jobs, open or keyed, or off."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import upload, wait_for_end

KEY = "metrics-key"


def scrape(client, headers=None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of GET /metrics by (sample name, sorted labels)."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_list_tasks_by_status_and_queue_depth(client):
    samples = scrape(client)
    for status in ("queued", "processing", "finished", "failed", "cancelled"):
        assert value(samples, "modellab_tasks", status=status) == 0
    assert ("modellab_queue_depth", ()) in samples


def test_requests_are_counted_by_route_template_never_the_raw_path(client):
    before = scrape(client)
    task_id = "0b6f1c1e-4f57-4d4e-9a57-2f1e8f0c0c11"
    assert client.get(f"/status/{task_id}").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)
    labels = {"method": "GET", "route": "/status/{task_id}", "status": "404"}
    assert (
        value(after, "modellab_http_requests_total", **labels)
        == value(before, "modellab_http_requests_total", **labels) + 1
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "modellab_http_requests_total", **unmatched) >= 1
    assert not any(task_id in str(key) or "/no/such/path" in str(key) for key in after)
    duration = {"method": "GET", "route": "/status/{task_id}"}
    assert value(after, "modellab_http_request_duration_seconds_count", **duration) >= 1


def test_a_refused_upload_counts_a_failure_by_error_code(client, face_video, short_audio):
    before = scrape(client)
    # A video labelled as audio and the other way round: refused as invalid media.
    response = upload(client, short_audio, face_video)
    assert response.status_code == 400
    code = response.json()["error_code"]
    after = scrape(client)
    failures = {"source": "request", "error_code": code}
    counted = value(after, "modellab_failures_total", **failures) - value(before, "modellab_failures_total", **failures)
    assert counted == 1
    assert value(after, "modellab_upload_bytes_total", field="video_file") > value(
        before, "modellab_upload_bytes_total", field="video_file"
    )


@pytest.mark.e2e
def test_a_finished_job_moves_the_job_and_request_metrics(client, face_video, short_audio):
    before = scrape(client)
    response = upload(client, face_video, short_audio)
    assert response.status_code == 202
    assert wait_for_end(client, response.json()["task_id"])["status"] == "finished"
    after = scrape(client)
    accepted = {"method": "POST", "route": "/process/", "status": "202"}
    assert (
        value(after, "modellab_http_requests_total", **accepted)
        == value(before, "modellab_http_requests_total", **accepted) + 1
    )
    job = {"engine": "viseme", "status": "finished"}
    assert (
        value(after, "modellab_job_duration_seconds_count", **job)
        == value(before, "modellab_job_duration_seconds_count", **job) + 1
    )
    assert (
        value(after, "modellab_job_frames_per_second_count", engine="viseme")
        == value(before, "modellab_job_frames_per_second_count", engine="viseme") + 1
    )
    assert value(after, "modellab_tasks", status="finished") == 1
    uploaded = value(after, "modellab_upload_bytes_total", field="video_file")
    assert uploaded - value(before, "modellab_upload_bytes_total", field="video_file") == face_video.stat().st_size


def test_metrics_off_answers_404(make_client):
    client = make_client(metrics_enabled=False)
    assert client.get("/metrics").status_code == 404


def test_metrics_stay_open_when_api_key_is_set(make_client):
    client = make_client(api_key=KEY)
    scrape(client)
    assert client.get("/models").status_code == 401


def test_metrics_need_the_key_when_metrics_require_key(make_client):
    client = make_client(api_key=KEY, metrics_require_key=True)
    assert client.get("/metrics").status_code == 401
    scrape(client, headers={"X-API-Key": KEY})
