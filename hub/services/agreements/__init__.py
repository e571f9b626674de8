"""Roaming agreements (DESIGN §6b): `policy` (what an agreement in force allows: the reads the
selectors consult), `lifecycle` (add, suspend, resume, end, with their validation) and `apply`
(what starting or ending one makes the hub send).

This package's `__init__` imports nothing: `hub.selectors` imports `policy` (a read over the
models only), and importing the package must not pull the services above the selectors in."""
