"""Routing between parties: direct forwarding and its per-receiver slots, proxied URLs, the
token-owner index for open routing, commands and charging profiles with their async results."""
