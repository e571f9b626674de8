"""The hub app: the domain, the OCPI plumbing and the hub-level modules."""

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig

from hub.modules import MODULES


class HubAdminConfig(AdminConfig):
    """Django's admin with the hub's site (`hub.admin.site`) as the default `admin.site`."""

    default_site = "hub.admin.site.get_site"


class HubConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hub"
    verbose_name = "OCPI hub"

    def ready(self) -> None:
        # Every import below is inside ready() on purpose: these modules import models, which
        # exist only once the app registry is ready.
        from django.db.models.signals import post_delete, post_save

        import hub.ocpi.schema  # noqa: F401 - registers the OpenAPI authentication extension
        import hub.tasks  # noqa: F401 - registers the tasks services enqueue by name (web too)
        from hub.models import Platform, PlatformEndpoint, PlatformRole, PlatformToken
        from hub.models.parties import directory_changed
        from hub.ocpi import directory_cache
        from hub.ocpi.registry import publish
        from hub.ocpi.signals import platform_seen
        from hub.services.delivery.enqueue import register_push_builder
        from hub.services.registry.clientinfo import on_platform_status_changed
        from hub.services.registry.status import on_platform_seen, platform_status_changed

        # The version details and the outbox's builders, both from the module table.
        for module in MODULES.values():
            for endpoint in module.endpoints:
                publish(module.id, endpoint.role, endpoint.url, audience=endpoint.audience)
            if module.push is not None:
                register_push_builder(module.id, module.push_builder())

        # The wire tells, the registry listens: a request from an OFFLINE platform makes it
        # CONNECTED; every status change pushes HubClientInfo (in the change's transaction).
        platform_seen.connect(on_platform_seen, dispatch_uid="hub.registry.platform_seen")
        # Every write to the directory drops every process's copies of it (auth, receivers).
        for model in (Platform, PlatformRole, PlatformEndpoint, PlatformToken):
            post_save.connect(
                directory_cache.on_directory_saved, sender=model, dispatch_uid=f"dir.save.{model}"
            )
            post_delete.connect(
                directory_cache.on_directory_changed, sender=model, dispatch_uid=f"dir.del.{model}"
            )
            directory_changed.connect(
                directory_cache.on_directory_changed, sender=model, dispatch_uid=f"dir.bulk.{model}"
            )
        platform_status_changed.connect(
            on_platform_status_changed, dispatch_uid="hub.clientinfo.platform_status_changed"
        )
