"""Task records, their states and the registries that hold them (in memory, on disk, in Redis)."""
