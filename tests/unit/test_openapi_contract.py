"""The services' OpenAPI documents: errors as problem details, reads typed.

A quick check of the documents themselves; ``tests/integration/test_fuzz.py`` holds the
running services to them with schemathesis."""

from __future__ import annotations

import pytest
from baton_delivery.composition import create_app as create_delivery
from baton_followup.composition import create_app as create_followup
from baton_intake.composition import create_app as create_intake
from baton_notify.composition import create_app as create_notify
from baton_shared.service.settings import BatonSettings

pytestmark = pytest.mark.unit
PROBLEM = "application/problem+json"


@pytest.fixture(
    params=[create_intake, create_delivery, create_followup, create_notify],
    ids=["intake", "delivery", "followup", "notify"],
)
def document(request, tmp_path) -> dict:
    settings = BatonSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", data_dir=tmp_path)
    return request.param(settings).openapi()


def operations(document: dict):
    for path, items in document["paths"].items():
        for method, operation in items.items():
            yield method.upper(), path, operation


def test_every_error_an_operation_answers_is_a_documented_problem(document):
    for method, path, operation in operations(document):
        responses = operation["responses"]
        expected = {"422"}
        if path.startswith("/v1"):
            expected |= {"401", "403", "503"} | ({"404"} if "{" in path else set())
            expected |= (
                {"409"}
                if method != "GET" or "min_position" in {p["name"] for p in operation.get("parameters", [])}
                else set()
            )
            expected |= {"400", "413"} if method in ("POST", "PUT", "PATCH") else set()
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, answer in responses.items():
            if status.startswith(("4", "5")) and not (path == "/health" and status == "503"):
                schema = answer["content"][PROBLEM]["schema"]["$ref"]
                assert schema == f"#/components/schemas/{'InvalidInput' if status == '422' else 'Problem'}", (
                    path,
                    status,
                )
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"} and problem["additionalProperties"] is True
    assert "errors" in document["components"]["schemas"]["InvalidInput"]["required"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_read_declares_its_answer(document):
    for method, path, operation in operations(document):
        if method != "GET" or not path.startswith("/v1"):
            continue
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema or "anyOf" in schema, (path, schema)
        if "$ref" in schema:  # a page's items are typed too
            model = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            items = model["properties"].get("items")
            assert items is None or "$ref" in items["items"], (path, items)
