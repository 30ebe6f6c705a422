"""Where task files live: the storage interface, this host's disk, and an S3-compatible bucket."""
