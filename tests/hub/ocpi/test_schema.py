"""The OpenAPI schema declares what the hub enforces, so schemathesis (`make fuzz`) and generated
clients probe the real rules: lengths and patterns of ids and OCPI headers, pagination, and the
enveloped error answers."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = Path(tmp_path_factory.mktemp("schema")) / "schema.yaml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(out))
    return dict(yaml.safe_load(out.read_text()))


@pytest.fixture(scope="module")
def paths(schema: dict[str, Any]) -> dict[str, Any]:
    return dict(schema["paths"])


@pytest.fixture(scope="module")
def components(schema: dict[str, Any]) -> dict[str, Any]:
    return dict(schema["components"]["schemas"])


def _parameters(operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == where}


def test_path_ids_carry_ocpi_lengths(paths: dict[str, Any]) -> None:
    put = paths["/ocpi/2.2.1/cpo/locations/{country_code}/{party_id}/{location_id}/{evse_uid}"]
    params = _parameters(put["put"], "path")
    assert params["country_code"]["maxLength"] == 2
    assert params["party_id"]["pattern"] == "^[A-Za-z0-9]{3}$"
    assert params["location_id"]["maxLength"] == 36
    assert params["evse_uid"]["maxLength"] == 36
    cdr = paths["/ocpi/2.2.1/cpo/cdrs/{country_code}/{party_id}/{cdr_id}"]["get"]
    assert _parameters(cdr, "path")["cdr_id"]["maxLength"] == 39
    command = paths["/ocpi/2.2.1/emsp/commands/{command}"]["post"]
    assert "START_SESSION" in _parameters(command, "path")["command"]["enum"]


def test_ocpi_headers_declare_their_form(paths: dict[str, Any]) -> None:
    operation = paths["/ocpi/2.2.1/emsp/locations"]["get"]
    headers = _parameters(operation, "header")
    assert headers["OCPI-to-country-code"]["pattern"] == "^[A-Za-z]{2}$"
    assert headers["OCPI-from-party-id"]["maxLength"] == 3
    assert headers["X-Request-ID"]["maxLength"] == 255


def test_paginated_lists_declare_pagination_and_others_do_not(paths: dict[str, Any]) -> None:
    for path in (
        "/ocpi/2.2.1/emsp/locations",
        "/ocpi/2.2.1/emsp/cdrs",
        "/ocpi/2.2.1/hubclientinfo",
    ):
        query = _parameters(paths[path]["get"], "query")
        assert {"offset", "limit", "date_from", "date_to"} <= set(query), path
        assert query["date_from"]["pattern"].endswith("Z$")
        assert query["limit"]["minimum"] == 1
    assert not _parameters(paths["/ocpi/versions"]["get"], "query")


def test_every_operation_documents_enveloped_errors_and_echoed_ids(paths: dict[str, Any]) -> None:
    for path, operations in paths.items():
        if not path.startswith("/ocpi/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "401", "404"} <= set(responses), f"{method} {path}"
            error = responses["401"]["content"]["application/json"]["schema"]
            assert set(error["required"]) == {"status_code", "timestamp"}
            for response in responses.values():
                assert response["headers"]["X-Request-ID"]["required"] is True


def test_each_location_depth_documents_its_own_object(paths: dict[str, Any]) -> None:
    # Found by make fuzz: the EVSE and connector URLs declared a Location, so every EVSE the
    # hub returned "violated" the schema and fuzzed EVSE PUTs sent Location bodies.
    base = "/ocpi/2.2.1/cpo/locations/{country_code}/{party_id}/{location_id}"
    evse = paths[base + "/{evse_uid}"]
    assert evse["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EvseRequest"
    }
    data = evse["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert data["properties"]["data"]["allOf"] == [{"$ref": "#/components/schemas/Evse"}]
    connector = paths["/ocpi/2.2.1/emsp/locations/{location_id}/{evse_uid}/{connector_id}"]
    data = connector["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert data["properties"]["data"]["allOf"] == [{"$ref": "#/components/schemas/Connector"}]


def test_deletes_answer_200_with_an_envelope_not_204(paths: dict[str, Any]) -> None:
    delete = paths["/ocpi/2.2.1/cpo/tariffs/{country_code}/{party_id}/{tariff_id}"]["delete"]
    assert "204" not in delete["responses"]
    assert (
        "status_code"
        in delete["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    )


def test_body_rules_the_hub_enforces_are_declared(components: dict[str, Any]) -> None:
    # Found by make fuzz: schema-valid bodies were refused with 2001 for rules the schema did
    # not state, so fuzzed writes never reached the services.
    assert components["LocationPatchRequest"]["required"] == ["last_updated"]
    assert "PatchedLocationPatchRequest" not in components
    assert components["LocationRequest"]["properties"]["country"]["pattern"] == "^(?:[A-Z]{3})$"
    assert components["EvseRequest"]["properties"]["connectors"]["minItems"] == 1
    assert components["SessionRequest"]["properties"]["kwh"]["minimum"] == 0
    assert "maximum" in components["CdrRequest"]["properties"]["total_energy"]
    assert components["CdrRequest"]["properties"]["party_id"]["pattern"] == "^[A-Za-z0-9]{3}$"
    assert components["ImageRequest"]["properties"]["url"]["pattern"].startswith("^https?://")
    last_updated = components["LocationRequest"]["properties"]["last_updated"]
    assert last_updated["pattern"].endswith("Z$")


def test_data_may_be_null_as_in_an_error_answered_with_http_200(paths: dict[str, Any]) -> None:
    # Found by make fuzz: a relayed 2001 with "data": null broke the declared list schema.
    ok = paths["/ocpi/2.2.1/emsp/locations"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["properties"]["data"]["nullable"] is True


def test_a_command_body_is_any_of_the_five_command_objects(paths: dict[str, Any]) -> None:
    # Found by make fuzz: every command was documented with a StartSession body, so fuzzed
    # STOP_SESSION/RESERVE_NOW/... bodies were refused as unknown fields.
    post = paths["/ocpi/2.2.1/emsp/commands/{command}"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CommandRequest"}


def test_query_parameters_declare_what_the_hub_checks(paths: dict[str, Any]) -> None:
    get = paths["/ocpi/2.2.1/emsp/chargingprofiles/{session_id}"]["get"]
    query = _parameters(get, "query")
    assert query["response_url"]["pattern"].startswith("^https?://")
    assert query["duration"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
