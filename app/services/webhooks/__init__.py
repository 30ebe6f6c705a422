"""Webhooks: checking the target, signing, posting, and scheduling tries (threads or Celery)."""
