"""The engines' published weights: the manifest, downloading and checking them (`python -m app.weights`)."""
