"""OCPI module URLs of this gateway (one module per file under api/).

Included under `/ocpi/2.2.1/<gateway>/`; patterns have no trailing slash (the exchange
middleware strips one before routing).
"""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
