"""The eMSP-facing gateway."""

from django.apps import AppConfig


class EmspGatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "emsp_gateway"
    verbose_name = "eMSP gateway"

    def ready(self) -> None:
        from emsp_gateway.api.access import EMSP_GATEWAY_ROLES
        from hub.ocpi.registry import publish

        # What eMSPs call: the hub SENDS them locations and tariffs (GET all via hub).
        publish("locations", "SENDER", "emsp-locations", audience=EMSP_GATEWAY_ROLES)
        publish("tariffs", "SENDER", "emsp-tariffs", audience=EMSP_GATEWAY_ROLES)
        # The hub RECEIVES eMSPs' commands and charging profiles and routes them to CPOs.
        publish("commands", "RECEIVER", "/ocpi/2.2.1/emsp/commands", audience=EMSP_GATEWAY_ROLES)
        publish(
            "chargingprofiles",
            "RECEIVER",
            "/ocpi/2.2.1/emsp/chargingprofiles",
            audience=EMSP_GATEWAY_ROLES,
        )
        # The hub SENDS eMSPs their own sessions and routes their charging preferences.
        publish("sessions", "SENDER", "emsp-sessions", audience=EMSP_GATEWAY_ROLES)
        # The hub SENDS eMSPs their own CDRs (the ones also pushed to their cdrs RECEIVER).
        publish("cdrs", "SENDER", "emsp-cdrs", audience=EMSP_GATEWAY_ROLES)
        # The hub RECEIVES eMSPs' tokens (and broadcasts them to the CPOs).
        publish("tokens", "RECEIVER", "/ocpi/2.2.1/emsp/tokens", audience=("EMSP",))
