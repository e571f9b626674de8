"""The CPO-facing gateway."""

from django.apps import AppConfig


class CpoGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cpo_gateway"
    verbose_name = "CPO gateway"

    def ready(self) -> None:
        from hub.ocpi.registry import publish

        # What CPOs call: the hub RECEIVES their locations and tariffs.
        publish("locations", "RECEIVER", "/ocpi/2.2.1/cpo/locations", audience=("CPO",))
        publish("tariffs", "RECEIVER", "/ocpi/2.2.1/cpo/tariffs", audience=("CPO",))
