"""GET /models tells, for a model whose weights are missing, the command that installs them."""


def test_models_shows_the_install_command_of_a_missing_model(make_client, tmp_path):
    client = make_client(weights_dir=tmp_path / "empty")
    models = {model["model_choice"]: model for model in client.get("/models").json()}
    assert models["model4"]["install_command"] == "python -m app.weights fetch model4"
    assert models["model2"]["install_command"] == "python -m app.weights fetch model2 --accept-licence"
    assert models["model3"]["install_command"] == "python -m app.weights fetch model3 --accept-licence"
    # LatentSync's weights come under use restrictions (OpenRAIL++-M): accepted on the command line.
    assert models["model5"]["install_command"] == "python -m app.weights fetch model5 --accept-licence"
    # The embedded engine needs no weights, and an available model needs no command.
    assert models["model1"]["available"] is True and models["model1"]["install_command"] is None


def test_a_model_mapped_to_an_engine_without_weights_has_no_command(make_client):
    client = make_client(model_engines={"model1": "viseme", "model2": "nothing"})
    models = {model["model_choice"]: model for model in client.get("/models").json()}
    assert models["model2"]["available"] is False and models["model2"]["install_command"] is None
