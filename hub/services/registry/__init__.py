"""The party registry: credentials in both directions, discovery of a partner's versions,
which parties a platform may hold, HubClientInfo pushes and the still-alive check."""
