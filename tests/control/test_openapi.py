"""The OpenAPI document: complete, valid, browsable offline, and true (schemathesis finds no 5xx and no
response that breaks the declared schemas)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from emulator.app import operations
from emulator.testing import EmulatorServer

PUBLIC_PREFIXES = (
    "/api/v1",
    "/compatible-mode/v1",
    "/compatible-api/v1",
    "/api/v2/apps/protocols/compatible-mode/v1",
    "/_emulator",
    "/_oss/",
)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0, seed=3, extra_args=("--api-key", "sk-fuzz")) as live:
        yield live


@pytest.fixture(scope="module")
def api_schema(server: EmulatorServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


def test_every_route_is_documented(server: EmulatorServer) -> None:
    doc = httpx.get(server.url + "/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    declared = {(op.method, op.path) for op in operations()}
    assert documented == declared
    for path in doc["paths"]:
        assert path.startswith(PUBLIC_PREFIXES), path
    assert doc["openapi"].startswith("3.1")


def test_docs_page_is_served_without_the_internet(server: EmulatorServer) -> None:
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert httpx.get(f"{server.url}/docs/static/{asset}").status_code == 200
    assert "https://" not in page.text and "http://" not in page.text


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def test_api_conforms_to_its_document(api_schema: schemathesis.BaseSchema, server: EmulatorServer) -> None:
    """schemathesis' pytest plugin does not load under pytest 9, so each operation gets a Hypothesis run here.

    Every check runs but "positive data acceptance": schema-valid requests are still refused by business rules
    (an unknown file id, a finished job's cancel), which is the API's correct behaviour.
    """
    checked = 0
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        def conforms(case: schemathesis.Case) -> None:
            if case.operation.path.endswith("/stream"):
                case.path_parameters = {**(case.path_parameters or {}), "job_id": "ft-000000000000-0000"}
            response = case.call_and_validate(
                base_url=server.url,
                headers={"Authorization": "Bearer sk-fuzz"},
                timeout=10,
                excluded_checks=[positive_data_acceptance],
            )
            assert response.status_code < 500
            if case.operation.path.startswith("/_emulator/faults"):
                httpx.delete(server.url + "/_emulator/faults")  # a fuzzed rule must not break the next operations
            if case.operation.path.startswith("/_emulator/responses"):
                httpx.delete(server.url + "/_emulator/responses")  # nor a fuzzed response rule (a scripted 5xx)

        conforms()
        checked += 1
    assert checked == len(operations())
    assert httpx.get(server.url + "/_emulator/health").json()["internal_errors"] == 0
