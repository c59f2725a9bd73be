"""The ``__any`` lookup: one array parameter whatever the number of values."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from g2p_registry_base.factories import IndividualFactory
from g2p_registry_base.models import Registrant

pytestmark = pytest.mark.django_db


def test_matches_as_in_with_a_single_array_parameter() -> None:
    people = [IndividualFactory() for _ in range(3)]
    wanted = [people[0].pk, people[2].pk, 10**12]
    with CaptureQueriesContext(connection) as ctx:
        found = sorted(Registrant.objects.filter(pk__any=wanted).values_list("pk", flat=True))
    assert found == sorted([people[0].pk, people[2].pk])
    (query,) = ctx.captured_queries
    assert "= ANY(" in query["sql"]


def test_a_long_list_is_one_parameter() -> None:
    person = IndividualFactory()
    ids: list[Any] = [*range(10**9, 10**9 + 200_000), person.pk]
    qs = Registrant.objects.filter(pk__any=ids)
    sql, params = qs.query.sql_with_params()
    assert len(params) == 1
    assert list(qs.values_list("pk", flat=True)) == [person.pk]


def test_an_empty_list_matches_nothing() -> None:
    IndividualFactory()
    assert Registrant.objects.filter(pk__any=[]).count() == 0


def test_values_are_prepared_by_the_field() -> None:
    person = IndividualFactory()
    assert list(
        Registrant.objects.filter(pk__any=[str(person.pk)]).values_list("pk", flat=True)
    ) == [person.pk]


def test_works_on_foreign_keys() -> None:
    from g2p_registry_base.factories import GroupFactory
    from g2p_registry_base.models import GroupMembership

    group, person = GroupFactory(), IndividualFactory()
    membership = GroupMembership.objects.create(group=group, individual=person)
    found = GroupMembership.objects.filter(individual_id__any=[person.pk, 10**12])
    assert list(found.values_list("pk", flat=True)) == [membership.pk]
