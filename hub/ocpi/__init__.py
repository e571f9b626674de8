"""The OCPI protocol plumbing, written once: envelope, status codes, errors, authentication,
routing headers, pagination, field types and the one outbound client (STYLE §3.2)."""
