"""Health and metrics (`/healthz`, `/metrics`; docs/monitoring.md). Heartbeat timing lives
with the beat schedule in settings/celery.py."""

from settings.env import env

# When set, /metrics answers only `Authorization: Bearer <token>` (compared in constant time);
# unset, anyone who reaches the web server may scrape it (bind or filter it at the proxy).
HUB_METRICS_TOKEN: str = env("HUB_METRICS_TOKEN", default="")
# Off: /metrics answers 404 (for an installation that does not scrape the hub at all).
HUB_METRICS_ENABLED: bool = env.bool("HUB_METRICS_ENABLED", default=True)
# Deliveries are labelled by receiver; past this many receivers (the largest backlogs first)
# the rest are summed under receiver="other", so the series count stays bounded.
HUB_METRICS_MAX_RECEIVERS: int = env.int("HUB_METRICS_MAX_RECEIVERS", default=100)
# The longest any one check (database, broker) of /healthz or of a scrape may take: a hung
# database or broker makes the answer "down", never a hung request.
HUB_HEALTH_TIMEOUT_S: float = env.float("HUB_HEALTH_TIMEOUT_S", default=3.0)
