"""Production: secrets and the database have no defaults; private partner URLs are refused."""

from django.core.exceptions import ImproperlyConfigured

from settings.env import env

for _required in ("DJANGO_SECRET_KEY", "DATABASE_URL"):
    if not env(_required, default=""):
        raise ImproperlyConfigured(f"{_required} must be set in production")

from settings.base import *  # noqa: E402,F403

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = False
OCPI_ALLOW_PRIVATE_URLS = env.bool("OCPI_ALLOW_PRIVATE_URLS", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# gunicorn serves the admin's and the API docs' static files through WhiteNoise
# (`collectstatic` runs in the image / compose command).
MIDDLEWARE = [  # noqa: F405
    MIDDLEWARE[0],  # noqa: F405
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[1:],  # noqa: F405
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
