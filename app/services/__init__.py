"""Tasks, storage, execution, uploads and webhooks. Knows nothing of HTTP: routes turn its
answers and errors into status codes and URLs."""
