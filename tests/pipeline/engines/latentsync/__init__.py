"""LatentSync 1.6 engine: its networks against the unmodified reference, and its stages."""
