"""Logging: one line per record on stderr; OCPI ids ride along as extra fields."""

from settings.env import env

LOG_LEVEL: str = env("DJANGO_LOG_LEVEL", default="INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Exchange log retention (days) for the periodic prune (hub.services.retention, in batches).
OCPI_EXCHANGE_LOG_RETENTION_DAYS: int = env.int("OCPI_EXCHANGE_LOG_RETENTION_DAYS", default=30)
