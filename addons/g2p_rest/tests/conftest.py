"""Fixtures of the REST tests: HTTP Basic headers per role and registry configuration."""

from __future__ import annotations

import base64

import pytest

from g2p_registry_base.models import IdType


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def as_registrar(registrar):  # type: ignore[no-untyped-def]
    return basic("registrar", "registrar-pass-123")


@pytest.fixture
def as_viewer(viewer):  # type: ignore[no-untyped-def]
    return basic("viewer", "viewer-pass-123")


@pytest.fixture
def as_admin(registry_admin):  # type: ignore[no-untyped-def]
    return basic("regadmin", "regadmin-pass-123")


@pytest.fixture
def national_id(db):  # type: ignore[no-untyped-def]
    return IdType.objects.create(name="National ID", id_validation="[0-9]{8}")
