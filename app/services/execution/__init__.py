"""Running tasks: the runner interface (threads here, Celery workers elsewhere), the engines, one run to its end."""
