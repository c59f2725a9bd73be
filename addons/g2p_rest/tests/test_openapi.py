"""The OpenAPI document, the interactive docs, and a property-based run of every operation
against the document: no server error and every response matches its declared schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from addons.g2p_rest.services import api_key_create

pytestmark = pytest.mark.django_db


def test_openapi_document_lists_every_operation(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "OpenG2P PBMS REST API"
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert operations == {
        ("GET", "/api/v1/registry/individual/{registrant_id}"),
        ("PUT", "/api/v1/registry/individual/{registrant_id}"),
        ("GET", "/api/v1/registry/individual"),
        ("POST", "/api/v1/registry/individual"),
        ("GET", "/api/v1/registry/group/{registrant_id}"),
        ("PUT", "/api/v1/registry/group/{registrant_id}"),
        ("GET", "/api/v1/registry/group"),
        ("POST", "/api/v1/registry/group"),
        ("GET", "/api/v1/registry/registrant"),
        ("GET", "/api/v1/registry/get_individual_ids"),
        ("PUT", "/api/v1/registry/update_individual"),
        ("GET", "/api/v1/programs"),
        ("GET", "/api/v1/programs/{program_id}"),
        ("GET", "/api/v1/registrants/{registrant_id}/program_memberships"),
        ("GET", "/api/v1/registrants/{registrant_id}/entitlements"),
        ("GET", "/api/v1/registrants/{registrant_id}/payments"),
    }
    assert set(doc["components"]["securitySchemes"]) == {"BearerKey", "HeaderKey", "BasicUser"}


def test_interactive_docs_are_served(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "/api/v1/openapi.json" in response.content.decode()


@pytest.fixture
def api_schema(db):  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from pbms.wsgi import application

    # As Django's test client does: the WSGI app must not close the test's connection (and
    # with it the test transaction) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]


def test_every_operation_conforms_to_the_document(api_schema, registry_admin, national_id):
    # An API key: a password check per call (PBKDF2) would dominate the run time.
    _key, raw = api_key_create(user=registry_admin, name="conformance")
    headers = {"Authorization": f"Bearer {raw}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 16

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def conforms(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        conforms()
