def test_health_reports_device_and_queue(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "device": "cpu", "queued": 0, "running": 0}


def test_models_lists_every_choice_with_availability(client):
    models = {model["model_choice"]: model for model in client.get("/models").json()}
    assert set(models) == {"model1", "model2", "model3", "model4", "model5"}
    assert models["model1"]["engine"] == "viseme" and models["model1"]["available"] is True
    for choice, engine in (("model2", "wav2lip"), ("model3", "wav2lip_gan")):
        assert models[choice]["engine"] == engine
        assert models[choice]["available"] is False
        assert "WEIGHTS_DIR" in models[choice]["reason"] and f"{engine}.pth" in models[choice]["reason"]
    assert models["model4"]["engine"] == "musetalk" and models["model4"]["available"] is False
    assert "musetalk/musetalkV15/musetalk.json not found" in models["model4"]["reason"]
    assert models["model5"]["engine"] == "latentsync" and models["model5"]["available"] is False
    assert "latentsync/latentsync_unet.pt not found" in models["model5"]["reason"]


def test_mapping_of_choices_to_engines_is_a_setting(make_client):
    client = make_client(model_engines={"model1": "viseme", "model2": "viseme", "model3": "nothing"})
    models = {model["model_choice"]: model for model in client.get("/models").json()}
    assert models["model2"]["engine"] == "viseme" and models["model2"]["available"] is True
    assert models["model3"]["available"] is False and "unknown engine" in models["model3"]["reason"]


def test_errors_are_json_with_detail(client):
    response = client.get("/no-such-route")
    assert response.status_code == 404 and "detail" in response.json()


def test_cors_allows_configured_origin(make_client):
    client = make_client(cors_origins="https://app.example")
    allowed = client.get("/health", headers={"Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    denied = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers
