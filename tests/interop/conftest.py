"""Interop fixtures: extrawest-ocpi partners in their own virtualenv (.venv-extrawest)."""

import pytest

from tests.interop.extrawest_partner import ensure_extrawest_venv


@pytest.fixture(scope="session")
def extrawest_python() -> str:
    """Create (once, under a lock shared by xdist workers) the extrawest-ocpi virtualenv."""
    return str(ensure_extrawest_venv())
