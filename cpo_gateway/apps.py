"""The CPO-facing gateway."""

from django.apps import AppConfig


class CpoGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cpo_gateway"
    verbose_name = "CPO gateway"
