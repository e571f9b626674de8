"""The CPO-facing gateway."""

from django.apps import AppConfig


class CpoGatewayConfig(AppConfig):
    """Its endpoints are published from the module table (`hub.modules`), with the eMSP
    gateway's, by the hub app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "cpo_gateway"
    verbose_name = "CPO gateway"
