"""Local development: `make run`. Partners run on 127.0.0.1, so private URLs are allowed."""

import os

os.environ.setdefault("OCPI_ALLOW_PRIVATE_URLS", "true")
os.environ.setdefault("DJANGO_DEBUG", "true")

from settings.base import *  # noqa: E402,F403
