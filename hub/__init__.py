"""The hub: domain, OCPI plumbing, hub-level modules and project glue."""

from hub.celery import app as celery_app

__all__ = ["celery_app"]
