"""The benchmark's floor pays what a committed write pays, and leaves nothing behind."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from bench.national import floor
from g2p_registry_base.factories import IndividualFactory
from g2p_registry_base.models import PhoneNumber

pytestmark = pytest.mark.django_db


def _insert_phone(registrant_id: int):  # type: ignore[no-untyped-def]
    def body(cursor) -> int:  # type: ignore[no-untyped-def]
        cursor.execute(
            "INSERT INTO g2p_registry_base_phonenumber "
            "(registrant_id, phone_no, phone_sanitized, country_code) "
            "VALUES (%s, '0712000001', '+254712000001', 'KE')",
            [registrant_id],
        )
        return int(cursor.rowcount)

    return body


def test_floor_runs_the_deferred_foreign_key_checks() -> None:
    """The schema's foreign keys are checked at commit; the floor, which rolls back, forces
    them inside its timing, so a row pointing at no registrant fails there."""
    with pytest.raises(IntegrityError, match="registrant_id"):
        floor(_insert_phone(987_654_321))
    assert PhoneNumber.objects.count() == 0


def test_floor_times_the_body_returns_its_result_and_rolls_back() -> None:
    person = IndividualFactory()
    seconds, rows = floor(_insert_phone(person.pk))
    assert rows == 1
    assert seconds > 0
    assert PhoneNumber.objects.count() == 0
