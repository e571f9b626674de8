"""Helpers shared by the admin tests: URLs, page text, changelist results, CSV exports."""

import csv
import io
from typing import Any

from django.test import Client
from django.urls import reverse


def html(response: Any) -> str:
    return str(response.content.decode())


def changelist(model: str) -> str:
    return reverse(f"admin:hub_{model}_changelist")


def change(model: str, pk: Any) -> str:
    return reverse(f"admin:hub_{model}_change", args=[pk])


def results(client: Client, model: str, query: dict[str, str] | None = None) -> list[Any]:
    """The objects a changelist shows for `query`."""
    response = client.get(changelist(model), query or {})
    assert response.status_code == 200, query
    return list(response.context["cl"].result_list)


def csv_rows(response: Any) -> list[list[str]]:
    """The rows of a CSV export, streamed or not."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))
