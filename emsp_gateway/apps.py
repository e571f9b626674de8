"""The eMSP-facing gateway."""

from django.apps import AppConfig


class EmspGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "emsp_gateway"
    verbose_name = "eMSP gateway"
