"""Test settings: fast hashing, partners on 127.0.0.1, exchange log on."""

import os

os.environ.setdefault("OCPI_ALLOW_PRIVATE_URLS", "true")
# Short outbound timeouts keep fault tests quick; tests that need others override settings.
os.environ.setdefault("OCPI_HTTP_TIMEOUT_S", "5")
os.environ.setdefault("OCPI_HTTP_CONNECT_TIMEOUT_S", "2")

from settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Every /ocpi/ response in the suite is checked against the envelope and id contract.
MIDDLEWARE = ["tests.contract.ContractCheckMiddleware", *MIDDLEWARE]  # noqa: F405
