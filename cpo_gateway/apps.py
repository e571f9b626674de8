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
        # Commands and charging profiles: CPOs post results to the response_url the hub gave
        # them (free-form, below this URL), and PUT ActiveChargingProfiles here.
        publish("commands", "SENDER", "/ocpi/2.2.1/cpo/commands", audience=("CPO",))
        publish("chargingprofiles", "SENDER", "/ocpi/2.2.1/cpo/chargingprofiles", audience=("CPO",))
        # The hub RECEIVES CPOs' sessions and delivers each to the eMSP owning its token.
        publish("sessions", "RECEIVER", "/ocpi/2.2.1/cpo/sessions", audience=("CPO",))
        # The hub RECEIVES CPOs' CDRs and delivers each to the eMSP owning its token.
        publish("cdrs", "RECEIVER", "cpo-cdrs", audience=("CPO",))
        # The hub SENDS CPOs the eMSPs' tokens and routes their real-time authorizations.
        publish("tokens", "SENDER", "cpo-tokens", audience=("CPO",))
