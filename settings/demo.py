"""`make demo` (`manage.py hub_demo`): the embedded default in a folder of its own.

The demo wipes its folder at every start, so it must never share `make run`'s database:
SQLite and the filesystem broker live in HUB_DEMO_DIR (default `var/demo/`), whatever
DATABASE_URL / REDIS_URL / CELERY_BROKER_URL say (a user's `.env` included: it is read first,
then overridden here). The hub's public URL is 127.0.0.1:PORT (`hub_demo --port`).

Retries are quicker than production's so that the down eMSP of the scripted day catches up in
seconds, not minutes (the demo prints these values): backoff 1 s doubling to 4 s (production
2 s to 300 s), a circuit cool-down of 3 s (30 s), the sweeper every 2 s (15 s).
"""

import os

from settings.env import BASE_DIR

HUB_DEMO_DIR = os.path.abspath(os.environ.get("HUB_DEMO_DIR") or BASE_DIR / "var" / "demo")
HUB_DEMO_PORT = int(os.environ.get("PORT") or 8100)

os.environ["DATABASE_URL"] = f"sqlite:///{HUB_DEMO_DIR}/db.sqlite3"
for _name in ("REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(_name, None)
os.environ["CELERY_BROKER_FOLDER"] = f"{HUB_DEMO_DIR}/broker"
os.environ["CELERY_BEAT_SCHEDULE_FILENAME"] = f"{HUB_DEMO_DIR}/celerybeat-schedule"
os.environ["OCPI_BASE_URL"] = f"http://127.0.0.1:{HUB_DEMO_PORT}"
os.environ["OCPI_ALLOW_PRIVATE_URLS"] = "true"  # the partners listen on 127.0.0.1
os.environ["OCPI_ROAMING_MODE"] = "open"
HUB_DEMO_TIMINGS = {
    "OCPI_PUSH_RETRY_BASE_S": "1",
    "OCPI_PUSH_RETRY_MAX_S": "4",
    "OCPI_PUSH_CIRCUIT_COOLDOWN_S": "3",
    "OCPI_SWEEP_INTERVAL_S": "2",
    "OCPI_CLIENTINFO_DIRECTORY_DELAY_S": "1",
}
os.environ.update(HUB_DEMO_TIMINGS)

from settings.local import *  # noqa: E402,F403
