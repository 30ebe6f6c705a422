"""Media and model pipeline: probing, decoding, face tracking, engines, encoding. Knows nothing of tasks."""
