"""The hub's operations admin, one module per concern (see `site.GROUPS` for how the index
groups them). Importing the package registers every ModelAdmin."""

from hub.admin import (  # noqa: F401 - registers the ModelAdmins
    agreements,
    analytics,
    cdrs,
    commands,
    correlation,
    delivery,
    exchanges,
    locations,
    partners,
    platforms,
    settlement,
    site,
    tokens_sessions,
)
