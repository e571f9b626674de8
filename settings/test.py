"""Test settings: fast hashing, partners on 127.0.0.1, one broker namespace per xdist worker.

Delivery tests run a real Celery worker in a subprocess, so the test database must be one that
another process can open: SQLite runs from a file (pytest-django adds the xdist suffix), and
each xdist worker gets its own broker namespace so parallel workers never steal each other's
tasks.
"""

import os

os.environ.setdefault("OCPI_ALLOW_PRIVATE_URLS", "true")
# Short outbound timeouts keep fault tests quick; tests that need others override settings.
os.environ.setdefault("OCPI_HTTP_TIMEOUT_S", "5")
os.environ.setdefault("OCPI_HTTP_CONNECT_TIMEOUT_S", "2")

# One namespace per test run and xdist worker: concurrent runs in one checkout never share a
# database file or broker queue. Subprocesses (the Celery worker under test) inherit the id.
_run_id = os.environ.setdefault("HUB_TEST_RUN_ID", str(os.getpid()))
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_namespace = f"{_run_id}-{_xdist_worker}"

from settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The default cache is process-local (flood counters must not leak between xdist workers).
# The directory generation (hub.ocpi.directory_cache) must reach the Celery worker subprocesses
# a test starts, so with Redis it lives there, in this run's and worker's own namespace; on the
# embedded default the copies are off (OCPI_DIRECTORY_CACHE_S is 0 without REDIS_URL) and the
# tests of the copies turn them on in one process.
_redis_url = os.environ.get("REDIS_URL") or None
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "directory": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": f"ocpi-hub-test-{_namespace}",
        }
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "directory"}
    ),
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    os.makedirs(BASE_DIR / ".run", exist_ok=True)  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(BASE_DIR / ".run" / f"test-db-{_run_id}.sqlite3")  # noqa: F405
    }

if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_FOLDER = str(BASE_DIR / ".run" / f"test-broker-{_namespace}")  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": CELERY_BROKER_FOLDER,
        "data_folder_out": CELERY_BROKER_FOLDER,
        "processed_folder": CELERY_BROKER_FOLDER + "-processed",
        "control_folder": CELERY_BROKER_FOLDER + "-control",
        "store_processed": False,
    }
    for _suffix in ("", "-processed", "-control"):
        os.makedirs(CELERY_BROKER_FOLDER + _suffix, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
        "global_keyprefix": f"ocpi-hub-test-{_namespace}:",
    }

# Every /ocpi/ response in the suite is checked against the envelope and id contract.
MIDDLEWARE = ["tests.contract.ContractCheckMiddleware", *MIDDLEWARE]  # noqa: F405

# Static files from the apps' folders, as with DEBUG on: tests never need `collectstatic`
# (WhiteNoise would otherwise warn, an error under pytest, that STATIC_ROOT is missing).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
