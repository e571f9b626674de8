"""Production: secrets, the database and the public URL have no defaults; private partner URLs
are refused; HTTPS everywhere (`manage.py check --deploy` is clean with the documented
environment, see docker-compose.yml).

The hub speaks plain HTTP on gunicorn's port and expects a TLS-terminating proxy in front of
it. Set DJANGO_BEHIND_PROXY=true only when that proxy sets X-Forwarded-Proto (and appends
X-Forwarded-For) on every request and clients cannot reach gunicorn directly: only then is
the header believed (SECURE_PROXY_SSL_HEADER), otherwise any client could claim HTTPS.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from settings.env import env

_REQUIRED = {
    "DJANGO_SECRET_KEY": "a long random secret",
    "DATABASE_URL": "the PostgreSQL URL",
    "OCPI_BASE_URL": "the hub's public https URL, as partners reach it (e.g. https://hub.example.com)",
}
for _name, _what in _REQUIRED.items():
    if not env(_name, default=""):
        raise ImproperlyConfigured(f"{_name} must be set in production: {_what}")
if urlsplit(env("OCPI_BASE_URL")).scheme != "https" and not env.bool(
    "OCPI_ALLOW_HTTP_BASE_URL", default=False
):
    raise ImproperlyConfigured(
        "OCPI_BASE_URL must be an https URL in production (partners send their tokens to it); "
        "set OCPI_ALLOW_HTTP_BASE_URL=true only for a closed test installation"
    )

from settings.base import *  # noqa: E402,F403

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = False
OCPI_ALLOW_PRIVATE_URLS = env.bool("OCPI_ALLOW_PRIVATE_URLS", default=False)

# HTTPS: redirect plain HTTP, HSTS for a year, cookies only over HTTPS. includeSubDomains
# covers the hosts below the hub's own (*.hub.example.com), not its siblings; preload only
# marks consent (the list takes a registrable domain, submitted by hand). Both can be turned
# off by the operator.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes and scrapes reach gunicorn over the private network in plain HTTP (compose, a
# kubelet, Prometheus): a redirect to https would fail every probe. Neither carries a secret
# of the hub; /metrics's own token travels only on that private network (docs/monitoring.md).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HUB_BEHIND_PROXY:  # noqa: F405 - settings/base.py, from DJANGO_BEHIND_PROXY
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# WhiteNoise (settings/base.py MIDDLEWARE) serves the static files compressed and with
# far-future caching (`collectstatic` runs when the image is built).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
