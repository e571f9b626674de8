"""Reading `/metrics` and `/healthz` in tests: the exposition parsed by prometheus-client's
own parser, samples looked up by name and labels."""

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called `name` (e.g. `ocpi_hub_requests_total`) with its labels."""
    return [
        (dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def value(text: str, sample: str, /, **labels: str) -> float | None:
    """The value of the one sample called `sample` whose labels include `labels`, None if
    absent."""
    found = [v for got, v in samples(text, sample) if labels.items() <= got.items()]
    assert len(found) <= 1, f"{sample}{labels} matches {len(found)} samples"
    return found[0] if found else None


def scrape(client: Any, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return str(response.content.decode())


def health(client: Any) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)
