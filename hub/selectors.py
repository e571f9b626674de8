"""Reads (HackSoft selectors): every "who may see / receive this" decision lives here, so that
roaming agreements plug in at one place (DESIGN §6b)."""

from django.db.models import QuerySet

from hub.models import PlatformRole
from hub.ocpi.authentication import OcpiCaller


def client_infos_visible_to(caller: OcpiCaller) -> QuerySet[PlatformRole]:
    """The parties whose ClientInfo a caller may list: every party connected through the hub
    except the caller's own (in open roaming mode, the hub's whole directory)."""
    return (
        PlatformRole.objects.select_related("platform")
        .exclude(platform=caller.platform)
        .exclude(platform__registered=False, platform__status="PLANNED")
    )
