"""gunicorn's configuration (`gunicorn --config python:settings.gunicorn hub.wsgi`): one module
read by `make run` (Procfile, through `manage.py hub_run`), the Docker image and
docker-compose.yml, so every installation serves the web the same way (docs/operations.md).

Environment:
- WEB_BIND: where to listen; default 127.0.0.1:$PORT (`make run`: this machine only, as the
  development server did). The image sets 0.0.0.0:8000 for the proxy in front of it.
- WEB_CONCURRENCY: worker processes; default one per core, at most 8 (`default_workers`).
- WEB_THREADS: threads per worker (gthread); default 4.
- WEB_TIMEOUT: seconds a worker may stay silent before the master replaces it; default 30.
- WEB_GRACEFUL_TIMEOUT: seconds in-flight requests get on SIGTERM; default 20.
- WEB_ACCESS_LOG: `true` for one access line per request on stdout; default off (the hub's
  exchange log records every OCPI request already).

Nothing here imports Django: the master only supervises; each worker loads the hub itself
(no preload), so no database connection or pooled HTTP client is ever shared across a fork.
With several workers, /metrics sums their request counters through PROMETHEUS_MULTIPROC_DIR
(set and emptied by `hub_run` and by docker-compose.yml; docs/monitoring.md). The hub keeps no
live gauges per process, so no `child_exit` hook is needed.
"""

import os
from pathlib import Path

# The hub is sync Django with a sync httpx client: a request mostly waits (the database, a
# partner's answer to a forwarded call), so threads serve the waiting and processes add CPU
# parallelism. gthread: WEB_THREADS threads in each of WEB_CONCURRENCY processes.
MAX_DEFAULT_WORKERS = 8
DEFAULT_THREADS = 4


def default_workers() -> int:
    """One process per core the hub may use (the CPU affinity, not the whole machine's count),
    capped: each process holds its own database connections (one per thread) and its own
    copy of the hub, and with WEB_THREADS threads each, cores × threads requests run at once."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [os.environ.get("WEB_BIND") or f"127.0.0.1:{os.environ.get('PORT') or '8000'}"]
workers = _int("WEB_CONCURRENCY", default_workers())
worker_class = "gthread"
threads = _int("WEB_THREADS", DEFAULT_THREADS)
# A synchronous forward waits at most OCPI_CALL_DEADLINE_S (12 s) for the receiver; in a
# gthread worker the main loop keeps beating while a thread waits, so this only replaces a
# worker that is truly stuck.
timeout = _int("WEB_TIMEOUT", 30)
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 20)
# Behind a proxy that reuses connections: a little longer than nothing, far less than a worker.
keepalive = 5
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG", "").lower() in {"1", "true", "yes"} else None
errorlog = "-"
# The X-Forwarded-* headers are judged by Django (DJANGO_BEHIND_PROXY), not by gunicorn.
forwarded_allow_ips = "127.0.0.1,::1"
proc_name = "ocpi-hub"
# gunicorn's control socket lives at one path per user (~/.gunicorn/gunicorn.ctl): a second
# hub on the machine (`make demo` next to `make run`) would take it over. Nothing uses it.
control_socket_disable = True
# The heartbeat files of the workers in memory, not on a disk that may stall (Docker's overlay).
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - tmpfs
