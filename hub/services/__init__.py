"""Writes: keyword-only, typed services that raise `OcpiError` subclasses (HackSoft)."""
