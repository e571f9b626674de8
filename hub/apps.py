"""The hub app: the domain, the OCPI plumbing and the hub-level modules."""

from django.apps import AppConfig

from hub.modules import MODULES


class HubConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hub"
    verbose_name = "OCPI hub"

    def ready(self) -> None:
        # Imported here, not at the top: they import models, which need the app registry.
        import hub.ocpi.schema  # noqa: F401 - registers the OpenAPI authentication extension
        from hub.ocpi.registry import publish
        from hub.services.delivery.outbox import register_push_builder

        # The version details and the outbox's builders, both from the module table.
        for module in MODULES.values():
            for endpoint in module.endpoints:
                publish(module.id, endpoint.role, endpoint.url, audience=endpoint.audience)
            if module.push is not None:
                register_push_builder(module.id, module.push_builder())
