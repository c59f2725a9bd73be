"""The back-office home page shows the registry figures to those who may see them."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from g2p_registry_base.factories import GroupFactory, IndividualFactory
from g2p_registry_base.services import registrants_disable

pytestmark = pytest.mark.django_db


def _count(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]+)<', html)
    assert match, f"{testid} not on the page"
    return match.group(1)


def test_home_shows_exact_registry_counts(client, registry_admin) -> None:
    people = IndividualFactory.create_batch(3)
    GroupFactory.create_batch(2)
    registrants_disable(registrant_ids=[people[0].pk], reason="Deceased", actor=None)
    client.force_login(registry_admin)
    html = client.get("/admin/").content.decode()
    assert (
        _count(html, "count-individuals"),
        _count(html, "count-groups"),
        _count(html, "count-disabled"),
    ) == (
        "3",
        "2",
        "1",
    )


def test_home_query_count_does_not_grow_with_the_registry(client, registry_admin) -> None:
    client.force_login(registry_admin)
    IndividualFactory.create_batch(2)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/admin/").status_code == 200
    IndividualFactory.create_batch(40)
    GroupFactory.create_batch(10)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/admin/").status_code == 200
    assert len(small) == len(large)


def test_user_without_registry_rights_sees_no_counts(client, django_user_model) -> None:
    user = django_user_model.objects.create_user("clerk", password="clerk-pass-123", is_staff=True)
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    assert 'data-testid="registry-counts"' not in html
