"""Writers of LatentSync 1.6 weight files with random values, for tests."""
