"""OCPI module URLs of this gateway (one module per file under api/)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
