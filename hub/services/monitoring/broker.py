"""The broker as the health check and the metrics see it: reachable, and how many messages
wait on each worker queue. Every socket operation is bounded by HUB_HEALTH_TIMEOUT_S."""

import math
from typing import Any

from django.conf import settings
from kombu import Connection

from hub.celery import app


def _bounded_connection() -> Connection:
    timeout = settings.HUB_HEALTH_TIMEOUT_S
    options: dict[str, object] = {}
    if not app.conf.broker_url.startswith("filesystem://"):
        # Redis: without these a broker that accepts the connection but never answers would
        # hold the request for as long as the kernel keeps the socket.
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return app.connection_for_read(transport_options=options, connect_timeout=timeout)


def queue_lengths() -> dict[str, int]:
    """Messages waiting on each of HUB_WORKER_QUEUES (ready, not yet taken by a worker).

    Through the transport's own count, so the number means the same as Celery's: on Redis
    LLEN summed over the queue's priority lists, on the filesystem broker the message files
    of that queue in the folder. Raises whatever the transport raises when the broker cannot
    be reached (the health check reads that as "down")."""
    with _bounded_connection() as conn:
        conn.ensure_connection(max_retries=1, timeout=math.ceil(settings.HUB_HEALTH_TIMEOUT_S))
        # kombu types it as the abstract StdChannel; every virtual transport's has a count.
        channel: Any = conn.default_channel
        # A declare without `passive`: on Redis a queue with no message has no key, and a
        # passive declare would call it missing; the non-passive one only counts.
        return {
            queue: channel.queue_declare(queue=queue).message_count
            for queue in settings.HUB_WORKER_QUEUES
        }
