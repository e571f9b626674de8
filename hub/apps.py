"""The hub app: the domain, the OCPI plumbing and the hub-level modules."""

from django.apps import AppConfig


class HubConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hub"
    verbose_name = "OCPI hub"

    def ready(self) -> None:
        import hub.ocpi.schema  # noqa: F401 - registers the OpenAPI authentication extension
        from hub.ocpi.registry import publish

        # Configuration modules every caller sees (2.2.1: the hub is SENDER of hubclientinfo;
        # credentials are published once, as SENDER, whatever the roles).
        publish("credentials", "SENDER", "ocpi-credentials")
        publish("hubclientinfo", "SENDER", "ocpi-hubclientinfo")

        from hub.services.delivery.enqueue import register_push_builder
        from hub.services.locations import build_location_push
        from hub.services.tariffs import build_tariff_push

        register_push_builder("locations", build_location_push)
        register_push_builder("tariffs", build_tariff_push)

        from hub.services.registry.clientinfo import build_clientinfo_push

        register_push_builder("hubclientinfo", build_clientinfo_push)

        from hub.services.routing.async_results import build_async_result_push

        # Results of commands and charging profiles, relayed to the requester's response_url.
        register_push_builder("commands", build_async_result_push)
        register_push_builder("chargingprofiles", build_async_result_push)

        from hub.services.sessions import build_session_push

        register_push_builder("sessions", build_session_push)

        from hub.services.cdrs import build_cdr_push

        register_push_builder("cdrs", build_cdr_push)

        from hub.services.tokens import build_token_push

        register_push_builder("tokens", build_token_push)
