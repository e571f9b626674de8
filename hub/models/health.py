"""Liveness stamps the health check reads (`/healthz`, hub.services.health): when beat last
sent the heartbeat task, and when a worker last ran it on each queue.

In the database rather than the cache: the embedded default runs web, worker and beat as
separate processes with a process-local cache, so only the database is shared by all three
in every mode."""

from django.db import models


class Heartbeat(models.Model):
    """One stamp: `beat` (the heartbeat task was published) or `worker:<queue>` (a worker
    consumed it from that queue), with the time it happened."""

    name = models.CharField(max_length=64, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%dT%H:%M:%SZ}"
