"""Operations: the heartbeat stamps, the health report of `/healthz` and the state gauges of
`/metrics` (docs/monitoring.md)."""
