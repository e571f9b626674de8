"""Celery: the outbox's delivery workers (DESIGN §5, STYLE §3.4)."""

from celery.schedules import crontab

from settings.env import BASE_DIR, env

_redis_url: str | None = env("REDIS_URL", default=None)
# Without a Redis URL the hub runs on kombu's filesystem transport: a broker that needs no
# server, so `make run` works on a machine with only Python.
CELERY_BROKER_URL: str = env("CELERY_BROKER_URL", default=_redis_url or "filesystem://")
CELERY_BROKER_FOLDER = env("CELERY_BROKER_FOLDER", default=str(BASE_DIR / ".run" / "broker"))

if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": CELERY_BROKER_FOLDER,
        "data_folder_out": CELERY_BROKER_FOLDER,
        "processed_folder": CELERY_BROKER_FOLDER + "-processed",
        "control_folder": CELERY_BROKER_FOLDER + "-control",
        "store_processed": False,
    }
else:
    # Redis re-delivers an unacknowledged message after visibility_timeout: it must exceed the
    # longest task (time limit) plus any countdown, or a slow task would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A delivery is acknowledged only after it ran, and re-queued if the worker dies mid-task;
# the outbox row makes a second run harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=30)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Money (sessions, CDRs, command results) and state (locations, tariffs, tokens, ClientInfo)
# travel on separate queues: a flood of state updates, or one receiver's backlog, never queues
# in front of a CDR. Every worker command line (Makefile, Procfile, docker-compose.yml,
# tests/worker.py) consumes HUB_WORKER_QUEUES; tests/test_project.py checks they agree.
CELERY_TASK_ROUTES = {
    "hub.deliver_push": {"queue": "ocpi_push"},
    "hub.deliver_money": {"queue": "ocpi_money"},
}
HUB_WORKER_QUEUES: tuple[str, ...] = ("default", "ocpi_push", "ocpi_money")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Periodic jobs live in one place (saleor, HackSoft).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "delivery-sweep": {
        "task": "hub.delivery_sweep",
        "schedule": env.float("OCPI_SWEEP_INTERVAL_S", default=15.0),
    },
    # Retention (hub.services.retention): batched prunes with a time budget; a run cut short
    # is resumed by the next one.
    "prune-exchange-log": {
        "task": "hub.exchange_log_prune",
        "schedule": env.float("OCPI_RETENTION_INTERVAL_S", default=900.0),
    },
    "retention-prune": {
        "task": "hub.retention_prune",
        "schedule": env.float("OCPI_RETENTION_INTERVAL_S", default=900.0),
    },
    # Still-alive (DESIGN §5): probe platforms silent for OCPI_STILL_ALIVE_AFTER_S.
    "still-alive-check": {
        "task": "hub.still_alive_check",
        "schedule": env.float("OCPI_STILL_ALIVE_CHECK_INTERVAL_S", default=60.0),
    },
    # Incremental GET of CPOs' locations and tariffs (for CPOs that do not push): the task
    # looks every 5 minutes (at most) for parties whose OCPI_PULL_SYNC_INTERVAL_S has passed.
    "pull-sync": {
        "task": "hub.pull_sync",
        "schedule": min(300.0, env.float("OCPI_PULL_SYNC_INTERVAL_S", default=3600.0)),
    },
    # Commands/charging profiles whose CPO result is overdue: TIMED_OUT, and the eMSP gets a
    # CommandResult TIMEOUT (2.2.1 mod_commands CommandResponse.timeout).
    "async-requests-expire": {
        "task": "hub.async_requests_expire",
        "schedule": env.float("OCPI_ASYNC_EXPIRE_INTERVAL_S", default=15.0),
    },
    # CDR reconciliation (DESIGN §6) of the previous UTC day, every day at 03:00 UTC (late
    # CDRs of sessions ending before midnight have arrived by then).
    "reconcile-cdrs": {
        "task": "hub.reconcile_cdrs",
        "schedule": crontab(hour=3, minute=0),
    },
    # Monthly settlement of roaming agreements (docs/settlement.md): the previous month, on
    # the 2nd at 05:00 UTC, after the reconciliation of the month's last day (03:00 on the 1st
    # and the 2nd: late CDRs and their checks are in by then).
    "settlement-monthly": {
        "task": "hub.settlement_monthly",
        "schedule": crontab(day_of_month="2", hour=5, minute=0),
    },
    # Agreements whose valid_from or valid_to day came: shortly after midnight (and safe to run
    # again at any time: only what changed is applied).
    "agreements-apply": {
        "task": "hub.agreements_apply",
        "schedule": crontab(hour=0, minute=5),
    },
}
# Heartbeat (/healthz, hub.services.monitoring): beat sends `hub.heartbeat` to every worker
# queue each interval, stamping the send in the database; the worker that runs it stamps its
# queue. Beat is down when no send is recent, a queue's workers are down when beat sent but
# nobody consumed. Each message expires after the staleness bound, so a long outage leaves no
# pile of heartbeats in the broker.
HUB_HEARTBEAT_INTERVAL_S: float = env.float("HUB_HEARTBEAT_INTERVAL_S", default=30.0)
HUB_HEARTBEAT_STALE_AFTER_S: float = env.float(
    "HUB_HEARTBEAT_STALE_AFTER_S", default=3 * HUB_HEARTBEAT_INTERVAL_S
)
for _queue in HUB_WORKER_QUEUES:
    CELERY_BEAT_SCHEDULE[f"heartbeat-{_queue}"] = {
        "task": "hub.heartbeat",
        "schedule": HUB_HEARTBEAT_INTERVAL_S,
        "args": (_queue,),
        "options": {"queue": _queue, "expires": HUB_HEARTBEAT_STALE_AFTER_S},
    }

CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / ".run" / "celerybeat-schedule")
)
