"""The eMSP-facing gateway."""

from django.apps import AppConfig


class EmspGatewayConfig(AppConfig):
    """Its endpoints are published from the module table (`hub.modules`), with the CPO
    gateway's, by the hub app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "emsp_gateway"
    verbose_name = "eMSP gateway"
