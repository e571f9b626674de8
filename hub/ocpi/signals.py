"""What the wire tells the domain, without knowing who listens (`hub.apps` connects the
receivers): the wire stays free of services, the domain decides what an event means."""

from django.dispatch import Signal

# An authenticated request came from `platform` (sent by `CredentialsTokenAuthentication`
# after the token resolved, in the request's transaction, before the view runs). The registry
# turns an OFFLINE platform CONNECTED again (still-alive, DESIGN §5).
platform_seen = Signal()
