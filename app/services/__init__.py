"""Tasks, storage and scheduling. Knows nothing of HTTP."""
